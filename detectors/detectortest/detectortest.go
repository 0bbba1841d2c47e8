// Package detectortest is a conformance check that every Xunjian detector
// passes, as slogtest is for slog handlers: spans in bounds, kinds from the
// family's taxonomy, private evidence masked, no panic on any input. It also
// holds what the families' tests share: table runners for kinds and spans,
// building a family's detector, the check that New refuses a foreign kind,
// and the benchmark and allocation checks of Detect.
package detectortest

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/xunjian/xunjian/detectors"
	"github.com/xunjian/xunjian/detectors/normalize"
)

// hostile are inputs every detector must survive.
var hostile = []string{
	"", " ", "\x00", "a\xffb\xfe", strings.Repeat("傻", 5000), strings.Repeat("1", 10000),
	"①②③④⑤⑥⑦⑧⑨⑩", "\u200b\u200c\u200d", "😀😀😀", "V信V信V信", "at at at dot dot",
	"13812345678 110101199003074514 6222021234567890128 john@example.com",
}

// Check runs d over inputs and the built-in hostile inputs, and returns every
// violation joined (nil when d conforms). Every finding must be of d's
// family and of one of kinds, the family's taxonomy kinds (the family
// package's Kinds; detectortest takes them as an argument because the
// registry that lists the families imports the family packages, whose tests
// use detectortest). Evidence of privacy findings must not contain any run
// of more than four digits of the original in clear.
func Check(d detectors.Detector, kinds []string, inputs ...string) error {
	var errs []error
	if len(kinds) == 0 {
		errs = append(errs, fmt.Errorf("detector %q: no taxonomy kinds", d.Name()))
	}
	n := normalize.Default()
	for _, in := range append(slices.Clone(inputs), hostile...) {
		func() {
			defer func() {
				if r := recover(); r != nil {
					errs = append(errs, fmt.Errorf("input %.40q: panic: %v", in, r))
				}
			}()
			t := n.Normalize(in)
			for _, f := range d.Detect(t, nil) {
				if err := checkFinding(t, d.Name(), kinds, f); err != nil {
					errs = append(errs, fmt.Errorf("input %.40q: %w", in, err))
				}
			}
		}()
	}
	return errors.Join(errs...)
}

func checkFinding(t *normalize.Text, name string, kinds []string, f detectors.Finding) error {
	switch {
	case f.Detector != name:
		return fmt.Errorf("finding detector %q from detector %q", f.Detector, name)
	case !slices.Contains(kinds, f.Kind):
		return fmt.Errorf("finding kind %q not in taxonomy of %s", f.Kind, name)
	case f.Start < 0 || f.End < f.Start || f.End > t.Len():
		return fmt.Errorf("%s span [%d,%d) outside text of %d code points", f.Name(), f.Start, f.End, t.Len())
	case f.Score < 0 || f.Score > 1:
		return fmt.Errorf("%s score %v outside 0..1", f.Name(), f.Score)
	case f.Severity > detectors.Critical:
		return fmt.Errorf("%s severity %d invalid", f.Name(), f.Severity)
	}
	if name == "privacy" && f.Kind != "address" {
		run := 0
		for _, r := range f.Evidence {
			if r >= '0' && r <= '9' {
				run++
				if run > 4 {
					return fmt.Errorf("%s evidence %q shows more than four digits in clear", f.Name(), f.Evidence)
				}
			} else {
				run = 0
			}
		}
	}
	return nil
}
