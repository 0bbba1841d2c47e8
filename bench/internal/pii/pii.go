package pii

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/xunjian/xunjian/bench/internal/corpus"
	"github.com/xunjian/xunjian/bench/internal/targets"
	"github.com/xunjian/xunjian/detectors"
	"github.com/xunjian/xunjian/detectors/normalize"
	"github.com/xunjian/xunjian/detectors/privacy"
)

// Config is one PII comparison. Zero fields take the documented defaults.
type Config struct {
	// Root is the repository root (for bench/presidio); empty means the
	// folder with go.mod above the working directory.
	Root string
	// Corpora is the corpora folder; empty means corpus.Dir's default.
	Corpora string
	// Negatives is how many MultiDoGO turns without a complete value are
	// added for precision; default 2000. Chinese is how many CrossWOZ
	// agent turns make the Chinese set; default 1500.
	Negatives, Chinese int
	// Venv is Presidio's virtualenv; default
	// $XDG_CACHE_HOME/xunjian/presidio-venv (~/.cache/...).
	Venv string
	// NoSetup skips creating a missing virtualenv with
	// bench/presidio/setup.sh (which installs from PyPI); Presidio is then
	// left out with a note.
	NoSetup bool
	// SkipPresidio measures the privacy detector only.
	SkipPresidio bool
	// MinTime is the least time the privacy detector's timing loop runs;
	// default 1s.
	MinTime time.Duration
	// Progress receives one line per step; nil means none.
	Progress io.Writer
}

// Span is a finding mapped to the taxonomy: Kind is a privacy kind, or
// "other:TYPE" for an entity type with no counterpart.
type Span struct {
	Kind       string
	Start, End int
}

// KindScore is one kind's recall and precision on one set.
type KindScore struct {
	Kind string `json:"kind"`
	// Want counts complete labelled values; Found those a finding of the
	// right kind overlaps.
	Want   int     `json:"want"`
	Found  int     `json:"found"`
	Recall float64 `json:"recall"`
	// Findings counts findings of the kind; Correct those overlapping a
	// label (complete or fragment) of the kind.
	Findings  int     `json:"findings"`
	Correct   int     `json:"correct"`
	Precision float64 `json:"precision"`
	// OtherType counts missed values that a finding of another type
	// overlaps (Presidio calling a Chinese mobile number US_BANK_NUMBER).
	OtherType int `json:"found_as_other_type,omitempty"`
}

// Engine is one detector's results.
type Engine struct {
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
	// Setup says how it ran.
	Setup string `json:"setup"`
	// Messages and Seconds are the timed work; MsgsPerSec their ratio (one
	// core: one goroutine, one Python thread).
	Messages   int     `json:"messages"`
	Seconds    float64 `json:"seconds"`
	MsgsPerSec float64 `json:"msgs_per_sec"`
	// Scores holds per set the per-kind scores.
	Scores map[string][]KindScore `json:"scores"`
	// OtherTypes counts the entity types found with no counterpart in the
	// taxonomy, over all messages.
	OtherTypes map[string]int `json:"other_types,omitempty"`
}

// Report is the PII comparison's result.
type Report struct {
	// Sets counts messages and complete labels per set.
	Sets    map[string]SetInfo `json:"sets"`
	Engines []Engine           `json:"engines"`
	Notes   []string           `json:"notes,omitempty"`
}

// SetInfo describes a labelled set.
type SetInfo struct {
	Messages int `json:"messages"`
	Labels   int `json:"complete_labels"`
}

func (c *Config) defaults() error {
	if c.Root == "" {
		root, err := corpus.RepoRoot()
		if err != nil {
			return err
		}
		c.Root = root
	}
	if c.Negatives == 0 {
		c.Negatives = 2000
	}
	if c.Chinese == 0 {
		c.Chinese = 1500
	}
	if c.Venv == "" {
		c.Venv = DefaultVenv()
	}
	if c.MinTime <= 0 {
		c.MinTime = time.Second
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	return nil
}

// DefaultVenv is where bench/presidio/setup.sh puts the virtualenv.
func DefaultVenv() string {
	base := os.Getenv("XDG_CACHE_HOME")
	if base == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return filepath.Join(os.TempDir(), "xunjian", "presidio-venv")
		}
		base = filepath.Join(home, ".cache")
	}
	return filepath.Join(base, "xunjian", "presidio-venv")
}

// Run runs the comparison.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	say := func(format string, args ...any) { fmt.Fprintf(cfg.Progress, "bench pii: "+format+"\n", args...) }
	dir, err := corpus.Dir(cfg.Corpora)
	if err != nil {
		return nil, err
	}
	items, err := Sets(dir, cfg.Negatives, cfg.Chinese, 1)
	if err != nil {
		return nil, err
	}
	rep := &Report{Sets: map[string]SetInfo{}}
	for _, it := range items {
		si := rep.Sets[it.Set]
		si.Messages++
		for _, l := range it.Labels {
			if !l.Partial {
				si.Labels++
			}
		}
		rep.Sets[it.Set] = si
	}
	say("%d messages: %v", len(items), rep.Sets)

	ours, err := runPrivacy(items, cfg.MinTime)
	if err != nil {
		return nil, err
	}
	say("privacy detector: %.0f msgs/s", ours.MsgsPerSec)
	rep.Engines = append(rep.Engines, *ours)

	if cfg.SkipPresidio {
		rep.Notes = append(rep.Notes, "Presidio skipped (--skip-presidio)")
		return rep, nil
	}
	py := filepath.Join(cfg.Venv, "bin", "python")
	if _, err := os.Stat(py); err != nil {
		if cfg.NoSetup {
			rep.Notes = append(rep.Notes, fmt.Sprintf("Presidio left out: no virtualenv at %s (run bench/presidio/setup.sh)", cfg.Venv))
			return rep, nil
		}
		say("creating Presidio's virtualenv at %s (bench/presidio/setup.sh, from PyPI)", cfg.Venv)
		if err := setup(ctx, cfg); err != nil {
			return nil, err
		}
	}
	say("running Presidio's analyzer on %d messages (one Python thread)", len(items))
	theirs, err := runPresidio(ctx, cfg, py, items)
	if err != nil {
		return nil, err
	}
	say("presidio: %.0f msgs/s", theirs.MsgsPerSec)
	rep.Engines = append(rep.Engines, *theirs)
	rep.Notes = append(rep.Notes,
		"Presidio: AnalyzerEngine with the NoOpNlpEngine (no spaCy model, pattern recognizers only, no context words from the text), all English recognizers, score threshold 0; Chinese messages analysed as English (Presidio has no Chinese recognizers).",
		"Kinds: PHONE_NUMBER = phone, EMAIL_ADDRESS = email, CREDIT_CARD and IBAN_CODE = bank_card, US_SSN = id_card; other entity types count as found_as_other_type when they overlap a missed value.")
	return rep, nil
}

// runPrivacy runs normalize + the privacy detector over items, once for
// the scores and again until MinTime has passed for the rate.
func runPrivacy(items []Item, minTime time.Duration) (*Engine, error) {
	d, err := privacy.Default()
	if err != nil {
		return nil, fmt.Errorf("privacy detector: %w", err)
	}
	n := normalize.Default()
	found := make([][]Span, len(items))
	for i, it := range items {
		for _, f := range d.Detect(n.Normalize(it.Text), nil) {
			found[i] = append(found[i], Span{Kind: f.Kind, Start: f.Start, End: f.End})
		}
	}
	// Timing: the gateway's way, reusing the text and buffer.
	var (
		t   normalize.Text
		buf normalize.Buffer
		dst = make([]detectors.Finding, 0, 16)
	)
	msgs := 0
	start := time.Now()
	for time.Since(start) < minTime {
		for _, it := range items {
			n.NormalizeInto(&t, &buf, it.Text)
			dst = d.Detect(&t, dst[:0])
			msgs++
		}
	}
	secs := time.Since(start).Seconds()
	e := &Engine{
		Name: "xunjian privacy", Setup: "normalize + detectors/privacy (default lexicon), one goroutine",
		Messages: msgs, Seconds: secs, MsgsPerSec: float64(msgs) / secs,
	}
	e.Scores, e.OtherTypes = score(items, found)
	return e, nil
}

// presidioKind maps Presidio entity types to privacy kinds.
var presidioKind = map[string]string{
	"PHONE_NUMBER":  "phone",
	"EMAIL_ADDRESS": "email",
	"CREDIT_CARD":   "bank_card",
	"IBAN_CODE":     "bank_card",
	"US_SSN":        "id_card",
}

type presidioLine struct {
	ID       *int `json:"id"`
	Entities []struct {
		Type  string  `json:"type"`
		Start int     `json:"start"`
		End   int     `json:"end"`
		Score float64 `json:"score"`
	} `json:"entities"`
	Summary *struct {
		Messages  int     `json:"messages"`
		Elapsed   float64 `json:"elapsed_seconds"`
		Version   string  `json:"presidio_analyzer"`
		Python    string  `json:"python"`
		NLPEngine string  `json:"nlp_engine"`
	} `json:"summary"`
}

func runPresidio(ctx context.Context, cfg Config, py string, items []Item) (*Engine, error) {
	var in bytes.Buffer
	enc := json.NewEncoder(&in)
	for _, it := range items {
		if err := enc.Encode(struct {
			ID   int    `json:"id"`
			Text string `json:"text"`
		}{it.ID, it.Text}); err != nil {
			return nil, fmt.Errorf("presidio input: %w", err)
		}
	}
	cmd := exec.CommandContext(ctx, py, filepath.Join(cfg.Root, "bench", "presidio", "analyze.py"))
	targets.ConfigureChild(cmd)
	cmd.Stdin = &in
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("presidio: %w\n%s", err, tail(stderr.String(), 20))
	}
	found := make([][]Span, len(items))
	e := &Engine{Name: "presidio analyzer"}
	sc := bufio.NewScanner(&out)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		var line presidioLine
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			return nil, fmt.Errorf("presidio output: %w", err)
		}
		switch {
		case line.Summary != nil:
			s := line.Summary
			e.Version, e.Messages, e.Seconds = s.Version, s.Messages, s.Elapsed
			e.Setup = fmt.Sprintf("presidio-analyzer %s, Python %s, %s, one thread", s.Version, s.Python, s.NLPEngine)
		case line.ID != nil && *line.ID >= 0 && *line.ID < len(items):
			for _, ent := range line.Entities {
				k, ok := presidioKind[ent.Type]
				if !ok {
					k = "other:" + ent.Type
				}
				found[*line.ID] = append(found[*line.ID], Span{Kind: k, Start: ent.Start, End: ent.End})
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("presidio output: %w", err)
	}
	if e.Seconds <= 0 || e.Messages != len(items) {
		return nil, errors.New("presidio: no summary line, or it counts other messages than were sent")
	}
	e.MsgsPerSec = float64(e.Messages) / e.Seconds
	e.Scores, e.OtherTypes = score(items, found)
	return e, nil
}

func setup(ctx context.Context, cfg Config) error {
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(cfg.Root, "bench", "presidio", "setup.sh"))
	targets.ConfigureChild(cmd)
	cmd.Env = append(os.Environ(), "PRESIDIO_VENV="+cfg.Venv)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("bench/presidio/setup.sh: %w\n%s", err, tail(out.String(), 20))
	}
	return nil
}

// score computes per set and kind recall and precision of found against
// the items' labels.
func score(items []Item, found [][]Span) (map[string][]KindScore, map[string]int) {
	type key struct{ set, kind string }
	acc := map[key]*KindScore{}
	get := func(set, kind string) *KindScore {
		k := key{set, kind}
		if acc[k] == nil {
			acc[k] = &KindScore{Kind: kind}
		}
		return acc[k]
	}
	other := map[string]int{}
	overlaps := func(a, b, c, d int) bool { return a < d && c < b }
	for i, it := range items {
		scored := setKinds[it.Set]
		for _, l := range it.Labels {
			if l.Partial || !slices.Contains(scored, l.Kind) {
				continue
			}
			ks := get(it.Set, l.Kind)
			ks.Want++
			hit, otherHit := false, false
			for _, f := range found[i] {
				if overlaps(f.Start, f.End, l.Start, l.End) {
					if f.Kind == l.Kind {
						hit = true
					} else if strings.HasPrefix(f.Kind, "other:") || !slices.Contains(scored, f.Kind) {
						otherHit = true
					}
				}
			}
			if hit {
				ks.Found++
			} else if otherHit {
				ks.OtherType++
			}
		}
		for _, f := range found[i] {
			if strings.HasPrefix(f.Kind, "other:") {
				other[strings.TrimPrefix(f.Kind, "other:")]++
				continue
			}
			if !slices.Contains(scored, f.Kind) {
				continue
			}
			ks := get(it.Set, f.Kind)
			ks.Findings++
			for _, l := range it.Labels {
				if l.Kind == f.Kind && overlaps(f.Start, f.End, l.Start, l.End) {
					ks.Correct++
					break
				}
			}
		}
	}
	out := map[string][]KindScore{}
	for _, set := range []string{SetEN, SetZH} {
		for _, kind := range setKinds[set] {
			ks := get(set, kind)
			ks.Recall = ratio(ks.Found, ks.Want)
			ks.Precision = ratio(ks.Correct, ks.Findings)
			out[set] = append(out[set], *ks)
		}
	}
	if len(other) == 0 {
		other = nil
	}
	return out, other
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// WriteTable prints the comparison as a Markdown table: per engine the
// rate on one core and per set and kind recall / precision.
func (r *Report) WriteTable(w io.Writer) {
	fmt.Fprintf(w, "PII: %s %d messages (%d complete values), %s %d messages (%d planted values).\n\n",
		SetEN, r.Sets[SetEN].Messages, r.Sets[SetEN].Labels, SetZH, r.Sets[SetZH].Messages, r.Sets[SetZH].Labels)
	header := "| engine | msgs/s (1 core) |"
	sep := "|---|---:|"
	for _, set := range []string{SetEN, SetZH} {
		for _, k := range setKinds[set] {
			header += fmt.Sprintf(" %s %s |", strings.SplitN(set, "_", 2)[1], k)
			sep += "---:|"
		}
	}
	fmt.Fprintln(w, header+"\n"+sep)
	for _, e := range r.Engines {
		row := fmt.Sprintf("| %s | %s |", e.Name, thousands(e.MsgsPerSec))
		for _, set := range []string{SetEN, SetZH} {
			for _, ks := range e.Scores[set] {
				row += fmt.Sprintf(" %.1f%% / %.1f%% |", 100*ks.Recall, 100*ks.Precision)
			}
		}
		fmt.Fprintln(w, row)
	}
	fmt.Fprintln(w, "\nCells: recall / precision. Recall counts complete values only (MultiDoGO fragments such as a card's last four digits are not); a finding on a fragment of its kind is not counted false.")
	for _, e := range r.Engines {
		fmt.Fprintf(w, "- %s: %s", e.Name, e.Setup)
		var missed []string
		for _, set := range []string{SetEN, SetZH} {
			for _, ks := range e.Scores[set] {
				if ks.OtherType > 0 {
					missed = append(missed, fmt.Sprintf("%s %s %d", set, ks.Kind, ks.OtherType))
				}
			}
		}
		if len(missed) > 0 {
			fmt.Fprintf(w, "; missed values flagged as another entity type: %s", strings.Join(missed, ", "))
		}
		if len(e.OtherTypes) > 0 {
			fmt.Fprintf(w, "; other entity types found: %s", otherString(e.OtherTypes))
		}
		fmt.Fprintln(w)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "- %s\n", n)
	}
}

func otherString(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return m[keys[i]] > m[keys[j]] || m[keys[i]] == m[keys[j]] && keys[i] < keys[j] })
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

func thousands(v float64) string {
	s := fmt.Sprintf("%.0f", v)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
