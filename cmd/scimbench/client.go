package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// checkLoopback refuses a host that is not a loopback address: scimbench sends load, and
// it sends it only to this machine.
func checkLoopback(host string) error {
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%q is not a loopback address: scimbench only talks to 127.0.0.0/8, ::1 or localhost", host)
	}
	return nil
}

// client is a SCIM client bound to one base URL and token, whose connections can only go to
// loopback addresses.
type client struct {
	base  string // …/scim/v2, no trailing slash
	token string
	http  *http.Client
}

func newClient(base, token string, conns int) (*client, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--url %q: want an absolute http URL such as http://127.0.0.1:8080/scim/v2", base)
	}
	if err := checkLoopback(u.Hostname()); err != nil {
		return nil, fmt.Errorf("--url: %w", err)
	}
	dialer := &net.Dialer{Timeout: 5 * time.Second, Control: func(network, address string, _ syscall.RawConn) error {
		host, _, err := net.SplitHostPort(address)
		if err != nil {
			return err
		}
		return checkLoopback(host)
	}}
	tr := &http.Transport{DialContext: dialer.DialContext, MaxIdleConns: conns * 2, MaxIdleConnsPerHost: conns * 2,
		IdleConnTimeout: 30 * time.Second, Proxy: nil}
	return &client{base: strings.TrimRight(base, "/"), token: token, http: &http.Client{
		Transport: tr, Timeout: 60 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}, nil
}

// response is a request's outcome.
type response struct {
	status     int
	body       []byte
	retryAfter string // the Retry-After header
}

// do sends one request; body is marshalled to JSON unless nil. A transport failure is
// status 0 with the error in body.
func (c *client) do(ctx context.Context, method, path string, body any) response {
	return c.doAs(ctx, c.token, method, path, body)
}

// doAs is do with another bearer token (the ops scenario's tenants each have their own).
func (c *client) doAs(ctx context.Context, token, method, path string, body any) response {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return response{body: []byte(err.Error())}
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return response{body: []byte(err.Error())}
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/scim+json")
	if body != nil {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	res, err := c.http.Do(req)
	if err != nil {
		return response{body: []byte(err.Error())}
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 256<<20))
	if err != nil {
		return response{status: res.StatusCode, body: []byte(err.Error()), retryAfter: res.Header.Get("Retry-After")}
	}
	return response{status: res.StatusCode, body: b, retryAfter: res.Header.Get("Retry-After")}
}

// call sends a request, records it as op in rec with want as the expected status, and
// returns the response.
func (c *client) call(ctx context.Context, rec *recorder, op string, want int, method, path string, body any) response {
	start := time.Now()
	r := c.do(ctx, method, path, body)
	if r.status == 0 && ctx.Err() != nil {
		return r // stopped by the deadline or a signal: not a server failure
	}
	rec.record(op, start, time.Since(start), r.status, r.status == want)
	if r.status != want {
		rec.unexpected(method, path, r)
	}
	return r
}

// listResponse is the part of a ListResponse scimbench reads.
type listResponse struct {
	TotalResults int               `json:"totalResults"`
	ItemsPerPage int               `json:"itemsPerPage"`
	NextCursor   string            `json:"nextCursor"`
	Resources    []json.RawMessage `json:"Resources"`
}

func decodeList(r response) (listResponse, error) {
	var lr listResponse
	if r.status != http.StatusOK {
		return lr, fmt.Errorf("status %d: %s", r.status, clip(r.body))
	}
	if err := json.Unmarshal(r.body, &lr); err != nil {
		return lr, fmt.Errorf("bad list response: %v", err)
	}
	return lr, nil
}

// idOf returns the id of a resource in a response body.
func idOf(body []byte) (string, error) {
	var v struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(body, &v); err != nil || v.ID == "" {
		return "", errors.New("no id in response: " + clip(body))
	}
	return v.ID, nil
}

func clip(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}

// filterQuery is ?filter=… with more parameters, escaped.
func filterQuery(filter string, more ...string) string {
	q := url.Values{"filter": {filter}}
	for i := 0; i+1 < len(more); i += 2 {
		q.Set(more[i], more[i+1])
	}
	return "?" + q.Encode()
}
