package inspect

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/xunjian/xunjian/detectors"
	"github.com/xunjian/xunjian/detectors/complaint"
	"github.com/xunjian/xunjian/detectors/lexicon"
	"github.com/xunjian/xunjian/detectors/model"
	"github.com/xunjian/xunjian/detectors/privacy"
	"github.com/xunjian/xunjian/detectors/registry"
	"github.com/xunjian/xunjian/rules"
)

// This file builds an Inspector's detectors from the registry's table of
// families and the policy bundle's data. It runs once per policy version;
// the per-request path only walks the lists it leaves in the Inspector.

// detectorSet is the detectors of one tenant (or of all tenants without
// detectors of their own).
type detectorSet struct {
	// all holds one detector per family, in registry order.
	all []detectors.Detector
	// agent and customer are the detectors run on agent drafts and on
	// customer messages, in registry order.
	agent, customer []detectors.Detector
}

// buildDetectors builds in's detectors (see New): the families no tenant
// extends once, the others once for all tenants and once more for each
// tenant that extends them. It sets the typed references the pipeline
// keeps beside the lists (the privacy detector, which masks, and the
// complaint detector, which scores signals) and the lexicon version.
func (in *Inspector) buildDetectors(p *rules.Policy, data map[string]any) error {
	fams := registry.Families()
	files, err := lexiconFiles(fams, data)
	if err != nil {
		return err
	}
	judge, err := loadModel(p, data)
	if err != nil {
		return err
	}
	// shared[i] is the detector of fams[i] when no tenant may extend it:
	// [0] plain, [1] judged by the model (for the family's Judged roles).
	shared := make([][2]detectors.Detector, len(fams))
	for i, fam := range fams {
		if fam.TenantExtensible {
			continue
		}
		if shared[i], err = build(fam, files[fam.Name], registry.Options{}, judge); err != nil {
			return err
		}
		// The judged detector: the one the customer list holds, whose
		// signals count the model's escalations too.
		switch d := shared[i][1].(type) {
		case *privacy.Detector:
			in.privacy = d
		case *complaint.Detector:
			in.complaint = d
		}
	}
	if in.privacy == nil || in.complaint == nil {
		return errors.New("detectors: the registry has no shared privacy or complaint detector, which the inspector masks and scores with")
	}
	base, err := tenantSet(fams, shared, files, tenantConfig{}, judge)
	if err != nil {
		return err
	}
	in.agent, in.customer = base.agent, base.customer
	in.scan = [2]*lexicon.Scanner{lexicon.NewScanner(lexiconsOf(base.agent)...), lexicon.NewScanner(lexiconsOf(base.customer)...)}
	tenants, err := tenantConfigs(data, fams)
	if err != nil {
		return err
	}
	for id, tc := range tenants {
		set, err := tenantSet(fams, shared, files, tc, judge)
		if err != nil {
			return fmt.Errorf("tenant %s: %w", id, err)
		}
		if in.byTenant == nil {
			in.byTenant = map[string][2][]detectors.Detector{}
		}
		in.byTenant[id] = [2][]detectors.Detector{set.agent, set.customer}
		if in.tenantScan == nil {
			in.tenantScan = map[string][2]*lexicon.Scanner{}
		}
		// A scanner's automaton is about 10 MB: a tenant shares the base
		// scanners when its lexicons are the base's (a link allowlist of
		// its own changes none), and one that extends a lexicon matches
		// family by family, as before there were scanners.
		for side, dets := range [2][]detectors.Detector{set.agent, set.customer} {
			if in.scan[side].Covers(lexiconsOf(dets)...) {
				ts := in.tenantScan[id]
				ts[side] = in.scan[side]
				in.tenantScan[id] = ts
			}
		}
	}
	in.version = lexiconVersion(base.all)
	return nil
}

// lexiconsOf returns the lexicons of dets, of those that have one.
func lexiconsOf(dets []detectors.Detector) []*lexicon.Lexicon {
	var lexs []*lexicon.Lexicon
	for _, d := range dets {
		if l, ok := d.(interface{ Lexicon() *lexicon.Lexicon }); ok {
			lexs = append(lexs, l.Lexicon())
		}
	}
	return lexs
}

// lexiconFiles returns each family's lexicon file by family name: the
// bundle's under data.xunjian.lexicons.<family> where present, else the
// embedded one, extended by data.xunjian.lexicon_additions.<family>. It
// reports every problem at once.
func lexiconFiles(fams []registry.Family, data map[string]any) (map[string]lexicon.File, error) {
	lex := bundleLexicons(data)
	var errs []error
	files := make(map[string]lexicon.File, len(fams))
	for _, fam := range fams {
		f, err := loadLexicon(fam, lex)
		if err != nil {
			errs = append(errs, fmt.Errorf("detector %s: %w", fam.Name, err))
		}
		files[fam.Name] = f
	}
	x, _ := data["xunjian"].(map[string]any)
	adds, _ := x["lexicon_additions"].(map[string]any)
	for family, v := range adds {
		base, ok := files[family]
		if !ok {
			errs = append(errs, fmt.Errorf("data.xunjian.lexicon_additions.%s: no such detector family", family))
			continue
		}
		ext, err := lexicon.FromData(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("data.xunjian.lexicon_additions.%s: %w", family, err))
			continue
		}
		files[family] = base.Extend(ext)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return files, nil
}

// loadLexicon returns fam's lexicon from the bundle's lexicons (lex) when
// it has one, else fam's embedded lexicon.
func loadLexicon(fam registry.Family, lex map[string]any) (lexicon.File, error) {
	v, ok := lex[fam.Name]
	if !ok {
		return fam.DefaultLexicon()
	}
	f, err := lexicon.FromData(v)
	if err != nil {
		return lexicon.File{}, fmt.Errorf("bundle lexicon %s: %w", fam.Name, err)
	}
	return f, nil
}

// tenantSet builds the detectors of the tenant-extensible families from
// files extended by tc, and lists them with the shared detectors (shared[i]
// for fams[i], zero where the family is tenant-extensible) by the roles
// they run on: for a role the family's Judged roles hold, the detector the
// model judges with. Every family's problems are reported at once.
func tenantSet(fams []registry.Family, shared [][2]detectors.Detector, files map[string]lexicon.File, tc tenantConfig, judge registry.Options) (detectorSet, error) {
	set := detectorSet{all: make([]detectors.Detector, len(fams))}
	var errs []error
	for i, fam := range fams {
		ds := shared[i]
		if fam.TenantExtensible {
			f := files[fam.Name]
			if ext, ok := tc.lexicons[fam.Name]; ok {
				f = f.Extend(ext)
			}
			var err error
			if ds, err = build(fam, f, registry.Options{AllowHosts: tc.linkAllow}, judge); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		// The judged detector's version names the model too.
		set.all[i] = ds[1]
		for _, r := range []registry.Roles{registry.Agent, registry.Customer} {
			if !fam.Roles.Has(r) {
				continue
			}
			d := ds[0]
			if fam.Judged.Has(r) {
				d = ds[1]
			}
			if r == registry.Agent {
				set.agent = append(set.agent, d)
			} else {
				set.customer = append(set.customer, d)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return detectorSet{}, err
	}
	return set, nil
}

// build builds fam's detector from f with opts, plain and, when fam has
// Judged roles and judge a model, judged by judge.Model ([1]; the plain one
// otherwise).
func build(fam registry.Family, f lexicon.File, opts registry.Options, judge registry.Options) ([2]detectors.Detector, error) {
	d, err := fam.New(f, opts)
	if err != nil {
		return [2]detectors.Detector{}, fmt.Errorf("detector %s: %w", fam.Name, err)
	}
	if fam.Judged == 0 || judge.Model == nil {
		return [2]detectors.Detector{d, d}, nil
	}
	opts.Model, opts.ModelFrom = judge.Model, judge.ModelFrom
	j, err := fam.New(f, opts)
	if err != nil {
		return [2]detectors.Detector{}, fmt.Errorf("detector %s: %w", fam.Name, err)
	}
	return [2]detectors.Detector{d, j}, nil
}

// loadModel returns the model the judged families use and from what
// probabilities it reports, from data.xunjian.model: file names a model
// the bundle carries (rules.AttachmentExt; default: the one built into the
// binary), report_from maps a kind ("tone.rude") to the probability from
// which the model reports it (registry.DefaultModelFrom for a kind it does
// not name), and enabled false turns the model off (no Model).
func loadModel(p *rules.Policy, data map[string]any) (registry.Options, error) {
	x, _ := data["xunjian"].(map[string]any)
	cfg, _ := x["model"].(map[string]any)
	if on, ok := cfg["enabled"]; ok {
		b, isBool := on.(bool)
		if !isBool {
			return registry.Options{}, errors.New("data.xunjian.model.enabled: want true or false")
		}
		if !b {
			return registry.Options{}, nil
		}
	}
	var opts registry.Options
	if v, ok := cfg["report_from"]; ok {
		kinds, isObj := v.(map[string]any)
		if !isObj {
			return registry.Options{}, errors.New("data.xunjian.model.report_from: want an object of kinds (\"tone.rude\") and probabilities")
		}
		opts.ModelFrom = map[string]float64{}
		for k, v := range kinds {
			from, isNum := number(v)
			if !isNum || from <= 0 || from > 1 {
				return registry.Options{}, fmt.Errorf("data.xunjian.model.report_from[%q]: %v: want a probability above 0, at most 1", k, v)
			}
			opts.ModelFrom[k] = from
		}
	}
	var err error
	if v, ok := cfg["file"]; ok {
		name, _ := v.(string)
		b, found := p.Attachment(name)
		if !found {
			return registry.Options{}, fmt.Errorf("data.xunjian.model.file: %q: the bundle has no such file (model files end in %s)", name, rules.AttachmentExt)
		}
		if opts.Model, err = model.Parse(b); err != nil {
			return registry.Options{}, fmt.Errorf("data.xunjian.model.file %s: %w", name, err)
		}
		return opts, nil
	}
	if opts.Model, err = model.Default(); err != nil {
		return registry.Options{}, err
	}
	return opts, nil
}

// lexiconVersion joins the versions of ds (one detector per family, in
// registry order) with dots: privacy, tone, diversion, commitment, link,
// complaint. A detector without a version (none today: the registry's
// test requires one) leaves its part empty, so the others keep their
// places.
func lexiconVersion(ds []detectors.Detector) string {
	parts := make([]string, len(ds))
	for i, d := range ds {
		if v, ok := d.(detectors.Versioner); ok {
			parts[i] = v.Version()
		}
	}
	return strings.Join(parts, ".")
}

// number returns v as a float64 when it is a JSON number, as the bundle's
// data holds it.
func number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}

// tenantConfig is what a tenant adds to the shared detectors.
type tenantConfig struct {
	lexicons  map[string]lexicon.File
	linkAllow []string
}

// tenantConfigs reads data.xunjian.tenants.<id>.lexicons.<family> (for the
// tenant-extensible families of fams) and .link_allow (hosts a tenant
// allows in links on top of the lexicon's allowlist), for the tenants that
// have either.
func tenantConfigs(data map[string]any, fams []registry.Family) (map[string]tenantConfig, error) {
	var extensible []string
	for _, fam := range fams {
		if fam.TenantExtensible {
			extensible = append(extensible, fam.Name)
		}
	}
	x, _ := data["xunjian"].(map[string]any)
	tenants, _ := x["tenants"].(map[string]any)
	out := map[string]tenantConfig{}
	for id, v := range tenants {
		t, _ := v.(map[string]any)
		var tc tenantConfig
		if raw, ok := t["link_allow"]; ok {
			list, ok := raw.([]any)
			if !ok {
				return nil, fmt.Errorf("data.xunjian.tenants.%s.link_allow: want a list of hosts", id)
			}
			tc.linkAllow = []string{}
			for i, h := range list {
				host, ok := h.(string)
				if !ok {
					return nil, fmt.Errorf("data.xunjian.tenants.%s.link_allow[%d]: want a host name", id, i)
				}
				tc.linkAllow = append(tc.linkAllow, host)
			}
		}
		if raw, ok := t["lexicons"]; ok {
			lexs, ok := raw.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("data.xunjian.tenants.%s.lexicons: want an object of families", id)
			}
			tc.lexicons = map[string]lexicon.File{}
			for family, v := range lexs {
				if !slices.Contains(extensible, family) {
					return nil, fmt.Errorf("data.xunjian.tenants.%s.lexicons.%s: a tenant may extend only %s", id, family, andList(extensible))
				}
				f, err := lexicon.FromData(v)
				if err != nil {
					return nil, fmt.Errorf("data.xunjian.tenants.%s.lexicons.%s: %w", id, family, err)
				}
				tc.lexicons[family] = f
			}
		}
		if tc.linkAllow != nil || tc.lexicons != nil {
			out[id] = tc
		}
	}
	return out, nil
}

// andList joins names as prose: "a", "a and b", "a, b and c".
func andList(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// bundleLexicons returns the policy bundle's lexicons by family,
// data.xunjian.lexicons (nil when it has none).
func bundleLexicons(data map[string]any) map[string]any {
	x, _ := data["xunjian"].(map[string]any)
	lex, _ := x["lexicons"].(map[string]any)
	return lex
}
