package inspect

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/xunjian/xunjian/detectors"
	"github.com/xunjian/xunjian/detectors/complaint"
	"github.com/xunjian/xunjian/detectors/lexicon"
	"github.com/xunjian/xunjian/detectors/privacy"
	"github.com/xunjian/xunjian/detectors/registry"
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
func (in *Inspector) buildDetectors(data map[string]any) error {
	fams := registry.Families()
	files, err := lexiconFiles(fams, data)
	if err != nil {
		return err
	}
	// shared[i] is the detector of fams[i] when no tenant may extend it.
	shared := make([]detectors.Detector, len(fams))
	for i, fam := range fams {
		if fam.TenantExtensible {
			continue
		}
		d, err := fam.New(files[fam.Name], registry.Options{})
		if err != nil {
			return fmt.Errorf("detector %s: %w", fam.Name, err)
		}
		shared[i] = d
		switch d := d.(type) {
		case *privacy.Detector:
			in.privacy = d
		case *complaint.Detector:
			in.complaint = d
		}
	}
	if in.privacy == nil || in.complaint == nil {
		return errors.New("detectors: the registry has no shared privacy or complaint detector, which the inspector masks and scores with")
	}
	base, err := tenantSet(fams, shared, files, tenantConfig{})
	if err != nil {
		return err
	}
	in.agent, in.customer = base.agent, base.customer
	tenants, err := tenantConfigs(data, fams)
	if err != nil {
		return err
	}
	for id, tc := range tenants {
		set, err := tenantSet(fams, shared, files, tc)
		if err != nil {
			return fmt.Errorf("tenant %s: %w", id, err)
		}
		if in.byTenant == nil {
			in.byTenant = map[string][2][]detectors.Detector{}
		}
		in.byTenant[id] = [2][]detectors.Detector{set.agent, set.customer}
	}
	in.version = lexiconVersion(base.all)
	return nil
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
// for fams[i], nil where the family is tenant-extensible) by the roles
// they run on. Every family's problems are reported at once.
func tenantSet(fams []registry.Family, shared []detectors.Detector, files map[string]lexicon.File, tc tenantConfig) (detectorSet, error) {
	set := detectorSet{all: make([]detectors.Detector, len(fams))}
	var errs []error
	for i, fam := range fams {
		d := shared[i]
		if fam.TenantExtensible {
			f := files[fam.Name]
			if ext, ok := tc.lexicons[fam.Name]; ok {
				f = f.Extend(ext)
			}
			var err error
			if d, err = fam.New(f, registry.Options{AllowHosts: tc.linkAllow}); err != nil {
				errs = append(errs, fmt.Errorf("detector %s: %w", fam.Name, err))
				continue
			}
		}
		set.all[i] = d
		if fam.Roles.Has(registry.Agent) {
			set.agent = append(set.agent, d)
		}
		if fam.Roles.Has(registry.Customer) {
			set.customer = append(set.customer, d)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return detectorSet{}, err
	}
	return set, nil
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
