package console

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/store"
)

// ---- /admin/user-types ----

// DefaultRecomputeBudget bounds the time one console request spends recomputing users after
// a rule change (Config.RecomputeBudget); the rest is done by the next "Continue" (or
// `scimd tenant user-type-rules --resume`).
const DefaultRecomputeBudget = 2 * time.Second

// userTypesForm is the rules form: what was entered, and the error.
type userTypesForm struct {
	Source     string
	Rules      string // one GROUP=USERTYPE per line
	GroupsAttr string
	Error      string
}

type userTypesView struct {
	Form      userTypesForm
	UserTypes []string
	Default   string
	Progress  store.UserTypeProgress
	Saved     bool
	MaxRules  int
}

func (s *Service) userTypesView(ctx context.Context, q *request) (*userTypesView, error) {
	rules, err := s.dir.UserTypeRules(ctx, q.tenant)
	if err != nil {
		return nil, err
	}
	p, err := s.dir.UserTypeProgress(ctx, q.tenant)
	if err != nil {
		return nil, err
	}
	lines := make([]string, len(rules.Rules))
	for i, r := range rules.Rules {
		lines[i] = r.Group + "=" + r.UserType
	}
	return &userTypesView{UserTypes: q.tenant.UserTypes, Default: q.tenant.DefaultUserType, Progress: p, MaxRules: directory.MaxUserTypeRules,
		Form: userTypesForm{Source: rules.Source, Rules: strings.Join(lines, "\n"), GroupsAttr: rules.GroupsAttr}}, nil
}

func (s *Service) userTypesPage(w http.ResponseWriter, r *http.Request, q *request) error {
	v, err := s.userTypesView(r.Context(), q)
	if err != nil {
		return err
	}
	v.Saved = r.URL.Query().Get("saved") == "1"
	s.render(w, http.StatusOK, "usertypes", &view{Title: "User types", Nav: "usertypes", Slug: q.tenant.Slug, Page: v, req: q})
	return nil
}

// userTypesSave checks and stores the rules through the directory (the same checks and audit
// event as `scimd tenant user-type-rules`), then recomputes users for at most
// Config.RecomputeBudget. A refused form is shown again with its error.
func (s *Service) userTypesSave(w http.ResponseWriter, r *http.Request, q *request) error {
	ctx := directory.WithActor(r.Context(), q.actor())
	f := r.PostForm
	form := userTypesForm{Source: f.Get("source"), Rules: f.Get("rules"), GroupsAttr: strings.TrimSpace(f.Get("groups_attribute"))}
	in := store.UserTypeRules{Source: form.Source, GroupsAttr: form.GroupsAttr}
	var err error
	for _, line := range strings.Split(strings.ReplaceAll(form.Rules, "\r\n", "\n"), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		var rule store.UserTypeRule
		if rule, err = directory.ParseUserTypeRule(line); err != nil {
			break
		}
		in.Rules = append(in.Rules, rule)
	}
	if err == nil {
		_, _, err = s.dir.SetUserTypeRules(ctx, q.tenant, in)
	}
	var re *directory.InputError
	switch {
	case errors.As(err, &re):
		v, verr := s.userTypesView(r.Context(), q)
		if verr != nil {
			return verr
		}
		form.Error = re.Error()
		v.Form = form
		s.render(w, http.StatusBadRequest, "usertypes", &view{Title: "User types", Nav: "usertypes", Slug: q.tenant.Slug, Page: v, req: q})
		return nil
	case err != nil:
		return err
	}
	return s.recomputeFor(w, r, q)
}

// userTypesRecompute continues a pending recomputation for at most Config.RecomputeBudget.
func (s *Service) userTypesRecompute(w http.ResponseWriter, r *http.Request, q *request) error {
	return s.recomputeFor(w, r, q)
}

func (s *Service) recomputeFor(w http.ResponseWriter, r *http.Request, q *request) error {
	ctx := directory.WithActor(r.Context(), q.actor())
	t, err := s.store.Tenant(ctx, q.tenant.ID)
	if err != nil {
		return err
	}
	for start := time.Now(); time.Since(start) < s.cfg.RecomputeBudget; {
		p, err := s.dir.RecomputeUserTypes(ctx, t)
		if err != nil {
			return err
		}
		if !p.Pending {
			break
		}
	}
	redirect(w, r, "/t/"+q.tenant.Slug+"/admin/user-types?saved=1")
	return nil
}
