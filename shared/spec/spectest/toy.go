// Package spectest is a toy vendor over a tiny simulator, registered by
// tests to prove that a descriptor alone gets a vendor every deployment:
// `localrun toy`, `localrun check toy`, the Lambda handler and its
// resources in the generated template. It is what a new vendor writes,
// minus the vendor's real API.
package spectest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/wazuh-pull/wazuh-pull/shared/event"
	"github.com/wazuh-pull/wazuh-pull/shared/httpx"
	"github.com/wazuh-pull/wazuh-pull/shared/pipeline"
	"github.com/wazuh-pull/wazuh-pull/shared/spec"
	"github.com/wazuh-pull/wazuh-pull/shared/state"
)

// Descriptor is the toy vendor.
func Descriptor() spec.Descriptor {
	return spec.Descriptor{
		Name: "toy", Command: "toy", Title: "Toy Events API",
		Envelope:   event.Envelope{Integration: "toy", Namespace: "toy"},
		Streams:    []spec.Stream{{Name: "alpha", Help: "alpha events"}, {Name: "beta", Help: "beta events", Schedule: "rate(1 hour)"}},
		AllStreams: "all", EnvPrefix: "TOY", HostDir: "toy",
		Credentials: []spec.Credential{
			{Field: "api_key", Env: "TOY_API_KEY", Required: true, Help: "API key"},
			{Field: "base_url", Env: "TOY_BASE_URL", Public: true, Flag: "base-url", Help: "API base URL"},
		},
		TenantsFileEnv: "TOY_TENANTS_FILE",
		Lookback:       spec.Lookback{Default: time.Hour, Max: 24 * time.Hour},
		Settings: []spec.Setting{{Name: "page-size", Env: "TOY_PAGE_SIZE", Kind: spec.Int, Default: "10", Min: 1, Max: 100, Lambda: true,
			Help: "events per request"}},
		RequestsPerMinute: 600,
		New: func(p spec.Params) (spec.Collector, error) {
			return &collector{p: p, page: p.Settings.Int("page-size")}, nil
		},
	}
}

type collector struct {
	p    spec.Params
	page int
}

func (c *collector) get(ctx context.Context, path string) ([]byte, error) {
	cr, err := c.p.Credentials.Get(ctx)
	if err != nil || cr["api_key"] == "" {
		return nil, &pipeline.Error{Code: pipeline.CodeMissingCredential, Message: "no toy API key", Detail: c.p.Where("api_key"), Err: err}
	}
	resp, err := c.p.HTTP.Do(ctx, &httpx.Request{Method: http.MethodGet, URL: cr["base_url"] + path, Header: http.Header{"Authorization": {"Key " + cr["api_key"]}}})
	if err != nil {
		return nil, &pipeline.Error{Code: pipeline.CodeOf(err), Message: "toy API request failed", Detail: "path=" + path, Err: err}
	}
	return resp.Body, nil
}

func (c *collector) Check(ctx context.Context, streams []string) spec.Report {
	var r spec.Report
	if _, err := c.get(ctx, "/whoami"); err != nil {
		r.Err = err
		return r
	}
	for _, s := range streams {
		r.Streams = append(r.Streams, spec.StreamStatus{Name: s, Runs: true, Detail: "will run"})
	}
	return r
}

func (c *collector) Source(stream string, opts spec.SourceOptions) (pipeline.Source, error) {
	return &source{c: c, stream: stream, backfill: opts.Backfill}, nil
}

// source pages through one stream with an "after" offset cursor.
type source struct {
	c        *collector
	stream   string
	backfill bool
	after    int
}

func (s *source) Start(_ context.Context, rec state.Record) error {
	if len(rec.Cursor) > 0 && !s.backfill {
		return json.Unmarshal(rec.Cursor, &s.after)
	}
	return nil
}

func (s *source) Fetch(ctx context.Context) (*pipeline.Page, error) {
	body, err := s.c.get(ctx, "/events?stream="+s.stream+"&after="+strconv.Itoa(s.after)+"&limit="+strconv.Itoa(s.c.page))
	if err != nil {
		return nil, err
	}
	var page struct {
		Events []json.RawMessage `json:"events"`
		Next   int               `json:"next"`
		More   bool              `json:"more"`
	}
	if err := json.Unmarshal(body, &page); err != nil {
		return nil, &pipeline.Error{Code: pipeline.CodeInvalidResponse, Message: "toy page is not JSON", Err: err}
	}
	out := &pipeline.Page{More: page.More}
	for i, raw := range page.Events {
		out.Items = append(out.Items, pipeline.Item{Raw: raw, Type: s.stream + "_event", Key: fmt.Sprintf("%s-%d", s.stream, s.after+i+1)})
	}
	s.after = page.Next
	if !s.backfill {
		out.Cursor, _ = json.Marshal(s.after)
	}
	return out, nil
}
