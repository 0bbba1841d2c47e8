package registry

import (
	"slices"
	"strings"
	"testing"

	"github.com/xunjian/xunjian/detectors"
	"github.com/xunjian/xunjian/detectors/detectortest"
	"github.com/xunjian/xunjian/detectors/lexicon"
	"github.com/xunjian/xunjian/detectors/model"
	"github.com/xunjian/xunjian/detectors/normalize"
)

// taxonomyEntry is one row of the DESIGN.md taxonomy table.
type taxonomyEntry struct {
	family string
	kinds  []string
}

// designTaxonomy is the DESIGN.md taxonomy table, in its order: part of
// the public API, spelled here on purpose so that a change to a family's
// kinds must change this test too.
func designTaxonomy() []taxonomyEntry {
	return []taxonomyEntry{
		{"privacy", []string{"phone", "id_card", "bank_card", "email", "address", "passport", "license_plate", "credential"}},
		{"tone", []string{"rude", "dismissive", "impatient", "profanity"}},
		{"diversion", []string{"contact", "payment"}},
		{"commitment", []string{"guarantee", "compensation", "absolute_claim"}},
		{"complaint", []string{"escalation", "risk"}},
		{"link", []string{"external"}},
	}
}

func names(fams []Family) []string {
	var out []string
	for _, f := range fams {
		out = append(out, f.Name)
	}
	return out
}

// TestFamiliesTaxonomy: the registry holds exactly the DESIGN families,
// each with its kinds in the DESIGN order, unique and non-empty.
func TestFamiliesTaxonomy(t *testing.T) {
	fams, taxonomy := Families(), designTaxonomy()
	if len(fams) != len(taxonomy) {
		t.Errorf("%d families %v, want the %d of the taxonomy", len(fams), names(fams), len(taxonomy))
	}
	for _, want := range taxonomy {
		i := slices.IndexFunc(fams, func(f Family) bool { return f.Name == want.family })
		if i < 0 {
			t.Errorf("family %s of the taxonomy is not registered", want.family)
			continue
		}
		if got := fams[i].Kinds; !slices.Equal(got, want.kinds) {
			t.Errorf("%s kinds %v, want %v", want.family, got, want.kinds)
		}
	}
	seen := map[string]bool{}
	for _, f := range fams {
		if f.Name == "" || seen[f.Name] {
			t.Errorf("family name %q empty or repeated", f.Name)
		}
		seen[f.Name] = true
		if len(f.Kinds) == 0 {
			t.Errorf("%s: no kinds", f.Name)
		}
		kinds := map[string]bool{}
		for _, k := range f.Kinds {
			if k == "" || kinds[k] {
				t.Errorf("%s: kind %q empty or repeated", f.Name, k)
			}
			kinds[k] = true
		}
	}
}

// TestFamiliesOrder pins the order: the pipeline runs the detectors in it
// and joins their versions in it into the lexicon version, which is in
// cache keys and shown at /v1/policy.
func TestFamiliesOrder(t *testing.T) {
	want := []string{"privacy", "tone", "diversion", "commitment", "link", "complaint"}
	if got := names(Families()); !slices.Equal(got, want) {
		t.Errorf("order %v, want %v", got, want)
	}
}

// TestFamiliesRoles pins which messages each family runs on, and so the
// pipeline's detector lists for agent drafts and customer messages.
func TestFamiliesRoles(t *testing.T) {
	tests := []struct {
		role Roles
		want []string
	}{
		{Agent, []string{"privacy", "tone", "diversion", "commitment", "link"}},
		{Customer, []string{"privacy", "tone", "diversion", "link", "complaint"}},
	}
	for _, tt := range tests {
		var got []string
		for _, f := range Families() {
			if f.Roles.Has(tt.role) {
				got = append(got, f.Name)
			}
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("role %d: families %v, want %v", tt.role, got, tt.want)
		}
	}
	for _, f := range Families() {
		if f.Roles == 0 || f.Roles&^(Agent|Customer) != 0 {
			t.Errorf("%s: roles %b, want agent, customer or both", f.Name, f.Roles)
		}
	}
}

// TestFamiliesTenantExtensible: a tenant may extend exactly tone,
// diversion, commitment and link; privacy and complaint are shared.
func TestFamiliesTenantExtensible(t *testing.T) {
	var got []string
	for _, f := range Families() {
		if f.TenantExtensible {
			got = append(got, f.Name)
		}
	}
	if want := []string{"tone", "diversion", "commitment", "link"}; !slices.Equal(got, want) {
		t.Errorf("tenant-extensible %v, want %v", got, want)
	}
}

// TestFamiliesBuild: every family's default lexicon parses and builds a
// detector named as the family, with a lexicon version, that passes the
// conformance check with the family's kinds.
func TestFamiliesBuild(t *testing.T) {
	for _, f := range Families() {
		t.Run(f.Name, func(t *testing.T) {
			if f.DefaultLexicon == nil || f.New == nil {
				t.Fatal("no default lexicon or constructor")
			}
			file, err := f.DefaultLexicon()
			if err != nil {
				t.Fatalf("default lexicon: %v", err)
			}
			d, err := f.New(file, Options{})
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			if d.Name() != f.Name {
				t.Errorf("detector Name() = %q, want %q", d.Name(), f.Name)
			}
			if v, ok := d.(detectors.Versioner); !ok || v.Version() == "" {
				t.Errorf("%T has no lexicon version: its lexicon must be in the cache key", d)
			}
			if err := detectortest.Check(d, f.Kinds); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestFamiliesNewError: a lexicon the family refuses fails New with an
// error naming the family, and a nil Detector (not a nil pointer in an
// interface).
func TestFamiliesNewError(t *testing.T) {
	bad := lexicon.File{Entries: []lexicon.Entry{{ID: "x", Kind: "no_such_kind", Terms: []string{"x"}}}}
	for _, f := range Families() {
		d, err := f.New(bad, Options{})
		if err == nil || !strings.Contains(err.Error(), f.Name) || !strings.Contains(err.Error(), "no_such_kind") {
			t.Errorf("%s: New(bad lexicon) error = %v, want one naming the family and the kind", f.Name, err)
		}
		if d != nil {
			t.Errorf("%s: New(bad lexicon) = %#v, want a nil Detector", f.Name, d)
		}
	}
}

// TestFamiliesFresh: Families shares nothing between calls, so a caller
// changing what it got cannot change the table.
func TestFamiliesFresh(t *testing.T) {
	a := Families()
	a[0].Name, a[0].Kinds[0] = "changed", "changed"
	b := Families()
	if b[0].Name == "changed" || b[0].Kinds[0] == "changed" {
		t.Errorf("a change to one call's result shows in the next: %+v", b[0])
	}
}

// TestLinkAllowHosts: Options.AllowHosts adds to the link family's
// allowlist (and to its version); a bad host fails New.
func TestLinkAllowHosts(t *testing.T) {
	fam := Families()[slices.IndexFunc(Families(), func(f Family) bool { return f.Name == "link" })]
	file, err := fam.DefaultLexicon()
	if err != nil {
		t.Fatal(err)
	}
	text := normalize.Default().Normalize("详情见 https://shop.example.com/p/1")
	tests := []struct {
		name     string
		opts     Options
		findings int
		err      string
	}{
		{"no options", Options{}, 1, ""},
		{"empty allowlist", Options{AllowHosts: []string{}}, 1, ""},
		{"allowed host", Options{AllowHosts: []string{"shop.example.com"}}, 0, ""},
		{"bad host", Options{AllowHosts: []string{"shop example"}}, 0, "link: allow"},
	}
	base, err := fam.New(file, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := fam.New(file, tt.opts)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || d != nil {
					t.Errorf("New = %v, %v; want a nil Detector and an error with %q", d, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := d.Detect(text, nil); len(got) != tt.findings {
				t.Errorf("findings %v, want %d", got, tt.findings)
			}
			sameVersion := d.(detectors.Versioner).Version() == base.(detectors.Versioner).Version()
			if sameVersion != (tt.opts.AllowHosts == nil) {
				t.Errorf("version %s (default %s): want it changed exactly when hosts are added", d.(detectors.Versioner).Version(), base.(detectors.Versioner).Version())
			}
		})
	}
}

func TestRolesHas(t *testing.T) {
	tests := []struct {
		r, role Roles
		want    bool
	}{
		{Agent, Agent, true},
		{Agent, Customer, false},
		{Customer, Customer, true},
		{Agent | Customer, Agent, true},
		{Agent | Customer, Customer, true},
		{Agent, Agent | Customer, false},
		{Agent | Customer, 0, false},
		{0, Agent, false},
	}
	for _, tt := range tests {
		if got := tt.r.Has(tt.role); got != tt.want {
			t.Errorf("Roles(%b).Has(%b) = %v, want %v", tt.r, tt.role, got, tt.want)
		}
	}
}

// TestFamiliesJudged: the model judges the tone of agent drafts and the
// escalation of customer messages, on roles the family runs on; built with
// the model, those families' versions name it, and the others ignore it.
func TestFamiliesJudged(t *testing.T) {
	m, err := model.Default()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Roles{"tone": Agent, "complaint": Customer}
	for _, f := range Families() {
		if f.Judged != want[f.Name] {
			t.Errorf("%s: judged roles %b, want %b", f.Name, f.Judged, want[f.Name])
		}
		if f.Judged != 0 && !f.Roles.Has(f.Judged) {
			t.Errorf("%s: judged on roles it does not run on", f.Name)
		}
		lex, err := f.DefaultLexicon()
		if err != nil {
			t.Fatal(err)
		}
		plain, err := f.New(lex, Options{})
		if err != nil {
			t.Fatal(err)
		}
		judged, err := f.New(lex, Options{Model: m})
		if err != nil {
			t.Fatalf("%s with the model: %v", f.Name, err)
		}
		pv, jv := plain.(detectors.Versioner).Version(), judged.(detectors.Versioner).Version()
		if named := strings.HasSuffix(jv, "+"+m.Version()); named != (f.Judged != 0) || (f.Judged == 0) != (pv == jv) {
			t.Errorf("%s: version %s plain, %s with the model", f.Name, pv, jv)
		}
	}
}
