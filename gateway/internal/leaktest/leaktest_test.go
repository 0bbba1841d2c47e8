package leaktest

import "testing"

func TestDigits(t *testing.T) {
	for _, tc := range []struct {
		text string
		leak bool
	}{
		{"电话 13812345678", true},
		{"电话 一三八一二三四五六七八", true},
		{"电话 壹叁捌壹贰叁肆伍陆柒捌", true},
		{"电话 ①③⑧①②③④⑤⑥⑦⑧", true},
		{"电话 ¹³⁸¹²³⁴⁵⁶⁷⁸", true},
		{"电话 138-1234-5678", true},
		{"电话 138\u200b1234\u200b5678", true},
		{"电话 138****5678", false},
		{"电话 *******5678", false},
		{"订单 20261202", false},
	} {
		if _, got := Digits(tc.text, "13812345678"); got != tc.leak {
			t.Errorf("Digits(%q) = %v, want %v", tc.text, got, tc.leak)
		}
	}
}
