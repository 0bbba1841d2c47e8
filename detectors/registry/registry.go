// Package registry is the one table of Xunjian's detector families: for
// each family its name, taxonomy kinds, the roles of the messages it runs
// on, its embedded lexicon, its constructor, and whether a tenant may extend
// its lexicon. The pipeline builds its detectors from this table instead of
// naming the families itself, so a new family is a row here (and its kinds
// in the DESIGN taxonomy and the schemas, which tests hold equal to it).
//
// The registry cannot live in the detectors root package: it imports the
// family packages, which import the root.
package registry

import (
	"github.com/xunjian/xunjian/detectors"
	"github.com/xunjian/xunjian/detectors/commitment"
	"github.com/xunjian/xunjian/detectors/complaint"
	"github.com/xunjian/xunjian/detectors/diversion"
	"github.com/xunjian/xunjian/detectors/lexicon"
	"github.com/xunjian/xunjian/detectors/link"
	"github.com/xunjian/xunjian/detectors/model"
	"github.com/xunjian/xunjian/detectors/privacy"
	"github.com/xunjian/xunjian/detectors/tone"
)

// Roles is a set of message roles. A family runs on the messages of the
// roles in its set: agent drafts, which the gateway may hold, and customer
// messages, which it only observes.
type Roles uint8

// The roles, each a set of one; Agent | Customer is both.
const (
	Agent Roles = 1 << iota
	Customer
)

// Has reports whether r holds every role of role (which is not empty).
func (r Roles) Has(role Roles) bool { return role != 0 && r&role == role }

// Options are what a family's detector is built with beyond its lexicon.
// The zero value changes nothing.
type Options struct {
	// AllowHosts are hosts (and their subdomains) allowed in links on top
	// of the lexicon's allow_host set; nil adds none. Only the link family
	// reads it; the others ignore it.
	AllowHosts []string
	// Model, when set, judges each message as a whole for the family's
	// kinds it has labels for (see Family.Judged), reporting a kind
	// ("tone.rude") from the probability ModelFrom gives it, or
	// DefaultModelFrom when ModelFrom is nil or has none. Families
	// without Judged roles ignore both.
	Model     *model.Model
	ModelFrom map[string]float64
}

// modelFrom returns the probability from which opts.Model reports kind.
func (opts Options) modelFrom(kind string) float64 {
	if p, ok := opts.ModelFrom[kind]; ok {
		return p
	}
	return DefaultModelFrom
}

// DefaultModelFrom is the probability from which a model's judgement
// becomes a finding when the policy does not say otherwise.
const DefaultModelFrom = 0.5

// Family is one detector family: one row of the table.
type Family struct {
	// Name is the family, the first half of its findings' taxonomy names;
	// it equals the Name of the detectors New builds.
	Name string
	// Kinds are the family's taxonomy kinds, the second half of the names.
	Kinds []string
	// Roles are the roles of the messages the family's detector runs on.
	Roles Roles
	// DefaultLexicon returns the lexicon embedded in the binary, parsed;
	// a policy bundle may replace or extend it.
	DefaultLexicon func() (lexicon.File, error)
	// New builds the family's detector from a lexicon file. Its errors
	// name the family already (they come from the family package).
	New func(lexicon.File, Options) (detectors.Detector, error)
	// TenantExtensible reports whether a tenant may add to the family's
	// lexicon (entries, allow phrases, set terms) and so get a detector of
	// its own; the other families' detectors are shared by all tenants.
	TenantExtensible bool
	// Judged are the roles whose messages a learned model also judges for
	// the family's kinds (Options.Model): the tone of agent drafts, the
	// escalation of customer messages. The model learned each kind from
	// one role's messages, so on the other roles the family runs on the
	// pipeline uses a detector built without it.
	Judged Roles
}

// Families returns the detector families, in a fixed order: the order in
// which the pipeline runs their detectors (so the order of a message's
// findings) and the order of the parts of its lexicon version, which is in
// cache keys and shown at /v1/policy. That order is privacy, tone,
// diversion, commitment, link, complaint: complaint, on customer messages
// only, comes last. (The DESIGN taxonomy lists complaint before link; the
// set of families and kinds is the same.)
//
// Each call returns a new slice of new values, which the caller may modify.
func Families() []Family {
	return []Family{
		{
			Name: privacy.Name, Kinds: privacy.Kinds(), Roles: Agent | Customer,
			DefaultLexicon: privacy.DefaultLexicon, New: build(privacy.New),
		},
		{
			Name: tone.Name, Kinds: tone.Kinds(), Roles: Agent | Customer,
			DefaultLexicon: tone.DefaultLexicon, New: judged(tone.New), TenantExtensible: true, Judged: Agent,
		},
		{
			Name: diversion.Name, Kinds: diversion.Kinds(), Roles: Agent | Customer,
			DefaultLexicon: diversion.DefaultLexicon, New: build(diversion.New), TenantExtensible: true,
		},
		{
			Name: commitment.Name, Kinds: commitment.Kinds(), Roles: Agent,
			DefaultLexicon: commitment.DefaultLexicon, New: build(commitment.New), TenantExtensible: true,
		},
		{
			Name: link.Name, Kinds: link.Kinds(), Roles: Agent | Customer,
			DefaultLexicon: link.DefaultLexicon, New: newLink, TenantExtensible: true,
		},
		{
			Name: complaint.Name, Kinds: complaint.Kinds(), Roles: Customer,
			DefaultLexicon: complaint.DefaultLexicon, New: judged(complaint.New), Judged: Customer,
		},
	}
}

// build adapts a family package's New, which returns its concrete detector
// and reads no options, to Family.New. An error yields a nil Detector, not
// a nil pointer in a non-nil interface.
func build[D detectors.Detector](newDetector func(lexicon.File) (D, error)) func(lexicon.File, Options) (detectors.Detector, error) {
	return func(f lexicon.File, _ Options) (detectors.Detector, error) {
		d, err := newDetector(f)
		if err != nil {
			return nil, err
		}
		return d, nil
	}
}

// judgedDetector is a family detector a model can judge with.
type judgedDetector[D any] interface {
	detectors.Detector
	WithModel(m *model.Model, from func(kind string) float64) (D, error)
}

// judged adapts the New of a family whose detector takes a model
// (WithModel) to Family.New: with opts.Model set, the detector judges
// with it.
func judged[D judgedDetector[D]](newDetector func(lexicon.File) (D, error)) func(lexicon.File, Options) (detectors.Detector, error) {
	return func(f lexicon.File, opts Options) (detectors.Detector, error) {
		d, err := newDetector(f)
		if err != nil {
			return nil, err
		}
		if opts.Model == nil {
			return d, nil
		}
		if d, err = d.WithModel(opts.Model, opts.modelFrom); err != nil {
			return nil, err
		}
		return d, nil
	}
}

// newLink builds the link detector and adds opts.AllowHosts to its
// allowlist when set.
func newLink(f lexicon.File, opts Options) (detectors.Detector, error) {
	d, err := link.New(f)
	if err != nil {
		return nil, err
	}
	if opts.AllowHosts == nil {
		return d, nil
	}
	withAllow, err := d.WithAllow(opts.AllowHosts)
	if err != nil {
		return nil, err
	}
	return withAllow, nil
}
