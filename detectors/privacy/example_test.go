package privacy_test

import (
	"fmt"

	"github.com/xunjian/xunjian/detectors/privacy"
)

// Mask hides the private part of a value the way events and redacted
// drafts show it, in whatever digit form it was written: a bank card keeps
// its first and last four digits and its separators.
func ExampleMask() {
	fmt.Println(privacy.Mask("phone", "13812345678"))
	fmt.Println(privacy.Mask("phone", "一三八一二三四五六七八"))
	fmt.Println(privacy.Mask("id_card", "11010519491231002X"))
	fmt.Println(privacy.Mask("bank_card", "6222 0212 3456 7890 128"))
	// Output:
	// 138****5678
	// 一三八****五六七八
	// 1101**********002X
	// 6222 **** **** ***0 128
}
