package inspect

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xunjian/xunjian/detectors"
	"github.com/xunjian/xunjian/detectors/model"
	"github.com/xunjian/xunjian/rules"
)

// modelFinding returns v's finding of name made by a model, if any.
func modelFinding(v Verdict, name string) (detectors.Finding, bool) {
	for _, f := range v.Findings {
		if f.Name() == name && strings.HasPrefix(f.Rule, "model:") {
			return f, true
		}
	}
	return detectors.Finding{}, false
}

// TestModelJudgesWholeMessages: the built-in model finds what no listed
// word gives away, in agent drafts (tone) and customer messages
// (escalation); its finding covers the message, names the model, carries
// no evidence, and the policy's bands set the action. A kind the lexicon
// already found is not reported twice, and the model's tone judgement is
// for agents only.
func TestModelJudgesWholeMessages(t *testing.T) {
	in := defaultInspector(t)
	m, err := model.Default()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		text, role, kind string
		action           rules.Action
	}{
		{"  您可真是个天才 ", RoleAgent, "tone.rude", rules.Block},
		{"这个找物流，别找我", RoleAgent, "tone.dismissive", rules.Confirm},
		{"同一个问题问几次了", RoleAgent, "tone.impatient", rules.Confirm},
		{"Is reading really that hard?", RoleAgent, "tone.rude", rules.Block},
		{"我已经截图保存聊天记录了，等着吧", RoleCustomer, "complaint.escalation", rules.Allow},
	} {
		v, err := inspectInto(in, context.Background(), Request{Text: tc.text, Role: tc.role}, nil, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		f, ok := modelFinding(v, tc.kind)
		if !ok {
			t.Errorf("%q: no model finding %s in %+v", tc.text, tc.kind, v.Findings)
			continue
		}
		start := len([]rune(tc.text)) - len([]rune(strings.TrimLeft(tc.text, " ")))
		if f.Rule != "model:"+m.Version() || f.Evidence != "" || f.Start != start || f.End != len([]rune(strings.TrimRight(tc.text, " "))) {
			t.Errorf("%q: finding %+v, want the whole message, no evidence, rule model:%s", tc.text, f, m.Version())
		}
		if v.Action != tc.action {
			t.Errorf("%q: action %s, want %s (score %.2f)", tc.text, v.Action, tc.action, f.Score)
		}
	}
	// The lexicon's finding stands alone.
	v, err := inspectInto(in, context.Background(), Request{Text: "你是不是傻，看不懂字吗"}, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := modelFinding(v, "tone.rude"); ok || !hasFinding(v, "tone.rude") {
		t.Errorf("findings %+v: want the lexicon's tone.rude only", v.Findings)
	}
	// A customer's sarcasm is no agent's tone.
	v, err = inspectInto(in, context.Background(), Request{Text: "您可真是个天才", Role: RoleCustomer}, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range v.Findings {
		if strings.HasPrefix(f.Rule, "model:") && f.Detector == "tone" {
			t.Errorf("a customer message got the model's tone finding %+v", f)
		}
	}
}

// bundleWithModel writes the default bundle with its data.xunjian.model
// replaced by cfg and the given files added.
func bundleWithModel(t *testing.T, cfg map[string]any, files map[string][]byte) string {
	t.Helper()
	bundle := bundleWith(t, nil)
	path := filepath.Join(bundle, "xunjian", "data.json")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var data map[string]any
	if err := json.Unmarshal(b, &data); err != nil {
		t.Fatal(err)
	}
	data["model"] = cfg
	if b, err = json.Marshal(data); err != nil {
		t.Fatal(err)
	}
	files["xunjian/data.json"] = b
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(bundle, filepath.FromSlash(name)), content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return bundle
}

// bundleInspector returns the Inspector of the bundle at dir, closed when
// the test ends.
func bundleInspector(t *testing.T, dir string) *Inspector {
	t.Helper()
	p, err := rules.Load(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	in, err := New(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close(); p.Close() })
	return in
}

// tinyModel trains a model that calls "菠萝头" rude and nothing else.
func tinyModel(t *testing.T) *model.Model {
	t.Helper()
	var ex []model.Example
	for range 5 {
		ex = append(ex, model.Example{Text: "你这个菠萝头", Labels: 1, Mask: 1, Weight: 1},
			model.Example{Text: "您好，马上为您查询", Mask: 1, Weight: 1},
			model.Example{Text: "您可真是个天才", Mask: 1, Weight: 1})
	}
	m, err := model.Train(ex, nil, model.TrainOptions{Labels: []string{"tone.rude"}, Bits: 10, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestModelFromBundle: a bundle ships its own model (a compliance team's
// retrained one) beside its Rego; the inspector judges with it, and the
// lexicon version, which keys the findings cache, changes with it.
func TestModelFromBundle(t *testing.T) {
	tiny := tinyModel(t)
	b, err := tiny.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	bundle := bundleWithModel(t, map[string]any{"file": "xunjian/tiny.xjm"}, map[string][]byte{"xunjian/tiny.xjm": b})
	in := bundleInspector(t, bundle)
	if in.LexiconVersion() == defaultInspector(t).LexiconVersion() || !strings.Contains(in.LexiconVersion(), tiny.Version()) {
		t.Errorf("lexicon version %s does not name the bundle's model %s", in.LexiconVersion(), tiny.Version())
	}
	v, err := inspectInto(in, context.Background(), Request{Text: "你这个菠萝头"}, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if f, ok := modelFinding(v, "tone.rude"); !ok || f.Rule != "model:"+tiny.Version() {
		t.Errorf("findings %+v: want the bundle model's tone.rude", v.Findings)
	}
	// The built-in model's judgement is gone with it.
	if v, err = inspectInto(in, context.Background(), Request{Text: "这个找物流，别找我"}, nil, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, ok := modelFinding(v, "tone.dismissive"); ok {
		t.Errorf("findings %+v: a label the bundle's model does not have", v.Findings)
	}
}

// TestModelConfigRefused: a bundle naming a model it does not carry, a
// file that is not a model, or settings out of range is refused when its
// inspector is built (as a reload's attach step does), naming the field.
func TestModelConfigRefused(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cfg   map[string]any
		files map[string][]byte
		want  string
	}{
		{"missing file", map[string]any{"file": "xunjian/none.xjm"}, map[string][]byte{}, "data.xunjian.model.file"},
		{"not a model", map[string]any{"file": "xunjian/bad.xjm"}, map[string][]byte{"xunjian/bad.xjm": []byte("not a model")}, "magic"},
		{"report_from out of range", map[string]any{"report_from": map[string]any{"tone.rude": 1.5}}, map[string][]byte{}, "report_from"},
		{"report_from not an object", map[string]any{"report_from": 0.5}, map[string][]byte{}, "report_from"},
		{"enabled not a bool", map[string]any{"enabled": "no"}, map[string][]byte{}, "enabled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := rules.Load(context.Background(), bundleWithModel(t, tc.cfg, tc.files))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := New(p, Options{}); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New: %v, want an error about %s", err, tc.want)
			}
		})
	}
	// enabled: false turns the model off.
	in := bundleInspector(t, bundleWithModel(t, map[string]any{"enabled": false}, map[string][]byte{}))
	v, err := inspectInto(in, context.Background(), Request{Text: "您可真是个天才"}, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := modelFinding(v, "tone.rude"); ok {
		t.Errorf("model disabled, still judged: %+v", v.Findings)
	}
}
