// Package dashgen writes the Wazuh dashboard (OpenSearch Dashboards 2.x,
// Wazuh 4.x) saved objects of rules/dashboards from a short description of
// each panel, so that every visualization is built the same way and the
// field names live in one place the tests read.
//
//	go run ./rules/dashgen/gendash   # rewrites rules/dashboards/*.ndjson
//
// The objects use the index pattern with id "wazuh-alerts-*" that the Wazuh
// dashboard creates; they do not carry it, so that importing them never
// replaces its field list.
package dashgen

import (
	"bytes"
	"crypto/sha1"
	"encoding/json"
	"fmt"
)

// IndexPattern is the id of the Wazuh alerts index pattern.
const IndexPattern = "wazuh-alerts-*"

// Panel describes one visualization or saved search.
type Panel struct {
	Title string
	// Kind: metric, pie, line, table, tagcloud, horizontal_bar or search.
	Kind string
	// Query is the panel's KQL filter (on top of the dashboard's).
	Query string
	// Filters are labelled KQL queries: a metric counts each, a line chart
	// splits by them.
	Filters []Filter
	// Terms are the bucket fields (pie slices, table rows, bars, words).
	Terms []Term
	// Sum adds a sum metric per field (tables and lines).
	Sum []string
	// Histogram draws over time (line); Split splits the series by a field.
	Histogram bool
	Split     string
	// Columns of a saved search.
	Columns []string
	// Width and Height on the dashboard grid (48 columns).
	Width, Height int
}

// Filter is a labelled KQL query.
type Filter struct{ Label, Query string }

// Term is a terms bucket.
type Term struct {
	Field string
	Size  int
	Label string
}

// Dashboard is one dashboard and its panels.
type Dashboard struct {
	File        string // rules/dashboards/<File>
	Title       string
	Description string
	// Query is the dashboard's KQL query, e.g. data.integration:1password.
	Query  string
	Panels []Panel
}

// id derives a stable saved-object id (UUID-shaped) from a name.
func id(name string) string {
	h := sha1.Sum([]byte("wazuh-pull dashboards/" + name))
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// jsonString marshals v to a JSON string value (saved objects nest JSON
// documents as strings).
func jsonString(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(err)
	}
	return string(bytes.TrimRight(b.Bytes(), "\n"))
}

func kuery(q string) map[string]any { return map[string]any{"query": q, "language": "kuery"} }

func searchSource(q string) string {
	return jsonString(map[string]any{"query": kuery(q), "filter": []any{}, "indexRefName": "kibanaSavedObjectMeta.searchSourceJSON.index"})
}

var indexRef = []map[string]string{{"id": IndexPattern, "name": "kibanaSavedObjectMeta.searchSourceJSON.index", "type": "index-pattern"}}

// Object is one saved object.
type Object struct {
	ID               string              `json:"id"`
	Type             string              `json:"type"`
	Attributes       map[string]any      `json:"attributes"`
	References       []map[string]string `json:"references"`
	MigrationVersion map[string]string   `json:"migrationVersion"`
}

func count() map[string]any {
	return map[string]any{"id": "1", "enabled": true, "type": "count", "params": map[string]any{}, "schema": "metric"}
}

func (p Panel) visualization(dashboard string) (Object, error) {
	aggs := []map[string]any{count()}
	next := 2
	add := func(typ, schema string, params map[string]any) {
		aggs = append(aggs, map[string]any{"id": fmt.Sprint(next), "enabled": true, "type": typ, "params": params, "schema": schema})
		next++
	}
	for _, f := range p.Sum {
		add("sum", "metric", map[string]any{"field": f})
	}
	terms := func(schema string) {
		for _, t := range p.Terms {
			size := t.Size
			if size == 0 {
				size = 10
			}
			params := map[string]any{"field": t.Field, "orderBy": "1", "order": "desc", "size": size, "otherBucket": false,
				"otherBucketLabel": "Other", "missingBucket": false, "missingBucketLabel": "Missing"}
			if t.Label != "" {
				params["customLabel"] = t.Label
			}
			add("terms", schema, params)
		}
	}
	filters := func(schema string) {
		var fs []map[string]any
		for _, f := range p.Filters {
			fs = append(fs, map[string]any{"input": kuery(f.Query), "label": f.Label})
		}
		add("filters", schema, map[string]any{"filters": fs})
	}
	var params map[string]any
	switch p.Kind {
	case "metric":
		if len(p.Filters) > 0 {
			filters("group")
		}
		params = map[string]any{"addTooltip": true, "addLegend": false, "type": "metric", "metric": map[string]any{
			"percentageMode": false, "useRanges": false, "colorSchema": "Green to Red", "metricColorMode": "None",
			"colorsRange": []any{map[string]any{"from": 0, "to": 10000}}, "labels": map[string]any{"show": true},
			"invertColors": false, "style": map[string]any{"bgFill": "#000", "bgColor": false, "labelColor": false, "subText": "", "fontSize": 48}}}
	case "pie":
		terms("segment")
		params = map[string]any{"type": "pie", "addTooltip": true, "addLegend": true, "legendPosition": "right", "isDonut": true,
			"labels": map[string]any{"show": false, "values": true, "last_level": true, "truncate": 100}}
	case "tagcloud":
		terms("segment")
		params = map[string]any{"scale": "linear", "orientation": "single", "minFontSize": 14, "maxFontSize": 48, "showLabel": true}
	case "table":
		terms("bucket")
		params = map[string]any{"perPage": 10, "showPartialRows": false, "showMetricsAtAllLevels": false, "showTotal": false, "totalFunc": "sum", "percentageCol": ""}
	case "horizontal_bar", "line":
		if p.Histogram {
			add("date_histogram", "segment", map[string]any{"field": "timestamp", "useNormalizedOpenSearchInterval": true,
				"scaleMetricValues": false, "interval": "auto", "drop_partials": false, "min_doc_count": 1, "extended_bounds": map[string]any{}})
		}
		if len(p.Filters) > 0 {
			filters("group")
		}
		if p.Split != "" {
			add("terms", "group", map[string]any{"field": p.Split, "orderBy": "1", "order": "desc", "size": 10, "otherBucket": true,
				"otherBucketLabel": "Other", "missingBucket": false, "missingBucketLabel": "Missing"})
		}
		terms("segment")
		chart, catPos, valPos := "line", "bottom", "left"
		if p.Kind == "horizontal_bar" {
			chart, catPos, valPos = "histogram", "left", "bottom"
		}
		var series []any
		for _, a := range aggs {
			if a["schema"] == "metric" {
				label := "Count"
				if f, ok := a["params"].(map[string]any)["field"].(string); ok {
					label = "Sum of " + f
				}
				series = append(series, map[string]any{"show": true, "type": chart, "mode": "normal", "data": map[string]any{"label": label, "id": a["id"]},
					"valueAxis": "ValueAxis-1", "drawLinesBetweenPoints": true, "showCircles": true})
			}
		}
		params = map[string]any{"type": p.Kind, "addTooltip": true, "addLegend": true, "legendPosition": "right",
			"seriesParams": series, "times": []any{}, "addTimeMarker": false, "grid": map[string]any{"categoryLines": false},
			"categoryAxes": []any{map[string]any{"id": "CategoryAxis-1", "type": "category", "position": catPos, "show": true, "style": map[string]any{},
				"scale": map[string]any{"type": "linear"}, "labels": map[string]any{"show": true, "filter": true, "truncate": 100}, "title": map[string]any{}}},
			"valueAxes": []any{map[string]any{"id": "ValueAxis-1", "name": "LeftAxis-1", "type": "value", "position": valPos, "show": true, "style": map[string]any{},
				"scale": map[string]any{"type": "linear", "mode": "normal"}, "labels": map[string]any{"show": true, "rotate": 0, "filter": false, "truncate": 100},
				"title": map[string]any{"text": "Count"}}}}
	default:
		return Object{}, fmt.Errorf("panel %q: unknown kind %q", p.Title, p.Kind)
	}
	title := dashboard + " - " + p.Title
	vis := map[string]any{"title": title, "type": p.Kind, "aggs": aggs, "params": params}
	return Object{
		ID:   id(title),
		Type: "visualization",
		Attributes: map[string]any{
			"title": title, "description": "", "version": 1, "uiStateJSON": "{}",
			"visState":              jsonString(vis),
			"kibanaSavedObjectMeta": map[string]any{"searchSourceJSON": searchSource(p.Query)},
		},
		References:       indexRef,
		MigrationVersion: map[string]string{"visualization": "7.10.0"},
	}, nil
}

func (p Panel) search(dashboard string) Object {
	title := dashboard + " - " + p.Title
	return Object{
		ID:   id(title),
		Type: "search",
		Attributes: map[string]any{
			"title": title, "description": "", "version": 1, "hits": 0, "columns": p.Columns,
			"sort":                  []any{[]any{"timestamp", "desc"}},
			"kibanaSavedObjectMeta": map[string]any{"searchSourceJSON": searchSource(p.Query)},
		},
		References:       indexRef,
		MigrationVersion: map[string]string{"search": "7.9.3"},
	}
}

// Objects returns the saved objects of a dashboard: its panels, then the
// dashboard itself.
func (d Dashboard) Objects() ([]Object, error) {
	var out []Object
	var panels []map[string]any
	var refs []map[string]string
	x, y, rowH := 0, 0, 0
	for i, p := range d.Panels {
		var o Object
		if p.Kind == "search" {
			o = p.search(d.Title)
		} else {
			var err error
			if o, err = p.visualization(d.Title); err != nil {
				return nil, err
			}
		}
		out = append(out, o)
		w, h := p.Width, p.Height
		if w == 0 {
			w = 24
		}
		if h == 0 {
			h = 12
		}
		if x+w > 48 {
			x, y, rowH = 0, y+rowH, 0
		}
		ref := fmt.Sprintf("panel_%d", i)
		panelID := id(d.Title + "/panel/" + p.Title)
		panels = append(panels, map[string]any{"version": "2.19.4", "gridData": map[string]any{"x": x, "y": y, "w": w, "h": h, "i": panelID},
			"panelIndex": panelID, "embeddableConfig": map[string]any{}, "panelRefName": ref})
		refs = append(refs, map[string]string{"id": o.ID, "name": ref, "type": o.Type})
		x += w
		rowH = max(rowH, h)
	}
	out = append(out, Object{
		ID:   id(d.Title),
		Type: "dashboard",
		Attributes: map[string]any{
			"title": d.Title, "description": d.Description, "hits": 0, "version": 1, "timeRestore": false,
			"optionsJSON":           jsonString(map[string]any{"hidePanelTitles": false, "useMargins": true}),
			"panelsJSON":            jsonString(panels),
			"kibanaSavedObjectMeta": map[string]any{"searchSourceJSON": jsonString(map[string]any{"query": kuery(d.Query), "filter": []any{}})},
		},
		References:       refs,
		MigrationVersion: map[string]string{"dashboard": "7.9.3"},
	})
	return out, nil
}

// NDJSON renders a dashboard's objects, one per line, as the dashboard's
// Saved objects import takes them.
func (d Dashboard) NDJSON() ([]byte, error) {
	objs, err := d.Objects()
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	for _, o := range objs {
		b.WriteString(jsonString(o))
		b.WriteByte('\n')
	}
	return b.Bytes(), nil
}
