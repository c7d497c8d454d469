package testkit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Client sends SCIM requests to one scimd with one bearer token: the one HTTP client of the
// black-box tests (server, faults, the CLI's end-to-end tests).
type Client struct {
	Base  string       // the server's URL, without /scim/v2
	Token string       // "" sends no Authorization header
	HTTP  *http.Client // nil: http.DefaultClient
}

// Response is one response, its body decoded when it is JSON (numbers as json.Number).
type Response struct {
	Status int
	Header http.Header
	Body   map[string]any
	Raw    []byte
}

// NewRequest makes a SCIM request with the bearer token (none when empty); body may be a
// string, []byte or anything JSON.
func NewRequest(method, url, token string, body any) (*http.Request, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	return req, nil
}

// Do sends one request to c.Base+path; header is name, value pairs. The error is the
// transport's, or a JSON body that does not decode.
func (c *Client) Do(method, path string, body any, header ...string) (Response, error) {
	req, err := NewRequest(method, c.Base+path, c.Token, body)
	if err != nil {
		return Response{}, err
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	res, err := hc.Do(req)
	if err != nil {
		return Response{}, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return Response{}, err
	}
	return Decode(res.StatusCode, res.Header, raw)
}

// Decode makes a Response of a status, headers and body.
func Decode(status int, h http.Header, raw []byte) (Response, error) {
	r := Response{Status: status, Header: h, Raw: raw}
	if len(raw) > 0 && strings.Contains(h.Get("Content-Type"), "json") {
		d := json.NewDecoder(bytes.NewReader(raw))
		d.UseNumber()
		if err := d.Decode(&r.Body); err != nil {
			return r, fmt.Errorf("response is not a JSON object: %v\n%s", err, raw)
		}
	}
	return r, nil
}
