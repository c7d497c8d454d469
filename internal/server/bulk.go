package server

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/scim"
	"github.com/scimd/scimd/internal/scim/bulk"
	"github.com/scimd/scimd/internal/scim/patch"
	"github.com/scimd/scimd/internal/store"
)

// bulkPath is the bulk endpoint (RFC 7644 §3.7); its body limit is maxPayloadSize.
const bulkPath = "/scim/v2/Bulk"

func errBulkTooLarge(limit int64) error {
	return scim.Errorf(http.StatusRequestEntityTooLarge, "", "the bulk request is larger than maxPayloadSize (%d bytes)", limit)
}

// bulkOpResult is one operation of a BulkResponse. A successful operation carries no
// response body: a bulk of 1,000 creates is answered with 1,000 short entries, not 1,000
// resources.
type bulkOpResult struct {
	Method   string     `json:"method"`
	BulkID   string     `json:"bulkId,omitempty"`
	Version  string     `json:"version,omitempty"`
	Location string     `json:"location,omitempty"`
	Status   string     `json:"status"`
	Response *scim.Body `json:"response,omitempty"`

	code int // Status as a number
}

// bulk answers POST /Bulk (RFC 7644 §3.7). Each operation goes through the same directory
// call as the request it stands for (the same rules and audit event), takes a token from
// the tenant's rate limit, and commits on its own: there is no transaction around the bulk,
// so an error stops only what failOnErrors says. Operations run one at a time, in the order
// bulk.Plan gives (a POST before the operations that use its bulkId), so a bulk holds at
// most one database connection, as a single request does. The bulk stops early, answering
// the operations it ran, when failOnErrors errors have happened, when the tenant's rate
// limit refuses an operation, or when the request timeout ends; the answer is 200 unless
// the request as a whole is refused (400, or 413 past maxOperations or maxPayloadSize).
func (s *Server) bulk(w http.ResponseWriter, r *http.Request) error {
	body, err := decodeBody(r)
	if err == nil {
		var req *bulk.Request
		if req, err = bulk.Parse(body, s.cfg.BulkMaxOperations); err == nil {
			writeJSON(w, http.StatusOK, s.runBulk(r, req))
			return nil
		}
	}
	s.metrics.bulkRequests.WithLabelValues("refused").Inc()
	if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
		return errBulkTooLarge(mbe.Limit)
	}
	return err
}

// runBulk runs the operations of req and returns the BulkResponse.
func (s *Server) runBulk(r *http.Request, req *bulk.Request) map[string]any {
	ctx := r.Context()
	t := tenantFrom(ctx)
	created := map[string]string{} // bulkId → id of the resource its POST created
	ids := func(bulkID string) (string, bool) { id, ok := created[bulkID]; return id, ok }
	results := make([]*bulkOpResult, len(req.Operations))
	failed := 0
	for _, op := range req.Plan() {
		if ctx.Err() != nil {
			break
		}
		res := s.runOp(r, t, op, ids)
		if res == nil {
			break // the client went away
		}
		results[op.Index] = res
		op.Data = nil // done with: the decoded body shrinks as the bulk runs
		if res.code < 300 {
			if op.Method == http.MethodPost && op.BulkID != "" {
				created[op.BulkID] = op.ID
			}
			continue
		}
		failed++
		if req.FailOnErrors > 0 && failed >= req.FailOnErrors || res.code == http.StatusTooManyRequests ||
			res.code == http.StatusServiceUnavailable && ctx.Err() != nil {
			break
		}
	}
	out := make([]*bulkOpResult, 0, len(results))
	for i, res := range results {
		if res == nil { // not run: the bulk stopped early
			s.metrics.bulkOps.WithLabelValues(metricMethod(req.Operations[i].Method), "skipped").Inc()
			continue
		}
		s.metrics.bulkOps.WithLabelValues(metricMethod(res.Method), outcomeOf(res.code)).Inc()
		out = append(out, res)
	}
	outcome := "success"
	switch {
	case len(out) < len(results):
		outcome = "stopped"
	case failed > 0:
		outcome = "partial"
	}
	s.metrics.bulkRequests.WithLabelValues(outcome).Inc()
	annotate(ctx, "bulk_operations", len(out))
	annotate(ctx, "bulk_failed", failed)
	return map[string]any{"schemas": []string{bulk.ResponseSchema}, "Operations": out}
}

// runOp runs one operation and returns its result; nil when the client went away.
func (s *Server) runOp(r *http.Request, t store.Tenant, op *bulk.Operation, ids func(string) (string, bool)) *bulkOpResult {
	ctx := r.Context()
	res := &bulkOpResult{Method: op.Method, BulkID: op.BulkID}
	var err error
	if op.Err != nil {
		err = op.Err
	} else if rerr := op.Resolve(ids); rerr != nil {
		err = rerr
	} else if _, terr := s.takeToken(ctx, t); terr != nil {
		err = terr
	} else {
		res.code, res.Version, err = s.applyOp(ctx, t, op)
	}
	if op.Location() != "" {
		res.Location = s.location(op.RT, op.ID)
	}
	if err != nil {
		se := s.scimError(r, err)
		if se == nil {
			return nil
		}
		body := se.Body()
		res.code, res.Response, res.Version = se.Status, &body, ""
		if op.Method == http.MethodPost {
			res.Location = "" // RFC 7644 §3.7: no location for a failed POST
		}
	}
	res.Status = strconv.Itoa(res.code)
	return res
}

// applyOp makes the directory call the operation stands for and returns the status a
// single request would get and the resource's new version. A POST sets op.ID.
func (s *Server) applyOp(ctx context.Context, t store.Tenant, op *bulk.Operation) (int, string, error) {
	h := s.users()
	if op.RT == scim.Groups {
		h = s.groups()
	}
	var res *scim.Resource
	var err error
	status := http.StatusOK
	switch op.Method {
	case http.MethodPost:
		if res, err = h.create_(ctx, t, op.Data); err == nil {
			op.ID, status = res.ID, http.StatusCreated
		}
	case http.MethodPut:
		res, err = h.replace_(ctx, t, op.ID, op.Data, op.Version)
	case http.MethodPatch:
		var ops []patch.Operation
		if ops, err = s.dir.ParsePatch(op.Data, op.RT); err == nil {
			res, err = h.patch_(ctx, t, op.ID, ops, op.Version)
		}
		if op.RT == scim.Groups {
			status = http.StatusNoContent // as a single group PATCH answers
		}
	case http.MethodDelete:
		return http.StatusNoContent, "", h.delete_(ctx, t, op.ID, op.Version)
	}
	if err != nil {
		return 0, "", err
	}
	return status, res.Meta.ETag(), nil
}

// metricMethod bounds the method label: a malformed operation may name any method.
func metricMethod(m string) string {
	switch m {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return m
	}
	return "other"
}

func outcomeOf(code int) string {
	switch {
	case code < 400:
		return directory.OutcomeSuccess
	case code < 500:
		return directory.OutcomeClientErr
	}
	return directory.OutcomeServerErr
}
