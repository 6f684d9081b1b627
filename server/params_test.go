package server

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/freeseg/freeseg"
)

// GET /v1/params describes every setting of the table with the defaults a
// request gets, and the service's own size limit as the maximum.
func TestParamsDescribeTheTable(t *testing.T) {
	cfg := Config{}
	cfg.MaxSide = 1000
	_, ts := testServer(t, cfg)
	resp, err := http.Get(ts.URL + "/v1/params")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got ParamsResponse
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || resp.StatusCode != 200 {
		t.Fatalf("status %d: %v", resp.StatusCode, err)
	}
	check := func(list []ParamJSON, o freeseg.Options, u freeseg.Use) {
		names := freeseg.SettingNames(u)
		if len(list) != len(names) {
			t.Fatalf("%d params, want %v", len(list), names)
		}
		for i, p := range list {
			s, _ := freeseg.SettingByName(names[i])
			if p.Name != names[i] || p.Help != s.Help || p.Type != string(s.Kind) {
				t.Errorf("param %d: %+v, want setting %s", i, p, names[i])
			}
			// The JSON default reads back as the request default.
			if d, _ := json.Marshal(p.Default); string(d) != mustJSON(t, s.Get(&o)) {
				t.Errorf("%s: default %s, want %s", p.Name, d, mustJSON(t, s.Get(&o)))
			}
			switch p.Name {
			case "crop", "short_side", "max_side":
				if p.Max == nil || *p.Max != 1000 {
					t.Errorf("%s: max %v, want the service's 1000", p.Name, p.Max)
				}
			case "method":
				if len(p.Choices) < 6 {
					t.Errorf("method choices %v", p.Choices)
				}
			}
		}
	}
	check(got.Segment, freeseg.DefaultOptions(), freeseg.ForSegment)
	check(got.Explain, freeseg.DefaultExplainOptions(), freeseg.ForExplain)
}

func mustJSON(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
