package main

import (
	"strings"
	"testing"
)

// TestCheckAlertsOnce runs `xunjian check` on messages a customer writes
// when they threaten to escalate, each holding several escalation
// findings, and on an agent's reply quoting the hotlines: every alert line
// is printed once, distinct alerts are all printed, and public service
// numbers are shown as typed.
func TestCheckAlertsOnce(t *testing.T) {
	for _, tc := range []struct {
		name   string
		args   []string
		alerts []string // alert lines, in order
		shown  []string // further text the output must hold
	}{
		{
			name: "hotline and 投诉",
			args: []string{"--role", "customer", "再不处理我就打12315投诉你们"},
			alerts: []string{
				"alert:   [high] complaint: 顾客威胁投诉或升级",
				"alert:   [medium] complaint: 会话投诉风险升高",
				"alert:   [high] risk: 会话风险超过阈值",
			},
			shown: []string{"text:    再不处理我就打12315投诉你们"},
		},
		{
			name: "regulator, media and lawyer",
			args: []string{"--role", "customer", "我要投诉！再不退款我就去12315投诉你们，还要找媒体曝光，找律师起诉"},
			alerts: []string{
				"alert:   [high] complaint: 顾客威胁投诉或升级",
				"alert:   [critical] complaint: 会话投诉风险升高",
				"alert:   [high] risk: 会话风险超过阈值",
			},
		},
		{
			name:  "agent quoting hotlines",
			args:  []string{"如对处理结果不满意，您可以拨打12315，或拨打客服热线400-820-8820"},
			shown: []string{"action:  allow", "12315", "400-820-8820"},
		},
		{
			name:  "hotline next to a mobile",
			args:  []string{"打12315也没用，我手机13812345678"},
			shown: []string{"action:  redact", "masked:  打12315也没用，我手机138****5678"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, _, err := runCLI(t, "", append([]string{"check"}, tc.args...)...)
			if err != nil {
				t.Fatal(err)
			}
			var alerts []string
			for line := range strings.Lines(out) {
				if strings.HasPrefix(line, "alert:") {
					alerts = append(alerts, strings.TrimRight(line, "\n"))
				}
			}
			if strings.Join(alerts, "\n") != strings.Join(tc.alerts, "\n") {
				t.Errorf("alert lines:\n%s\nwant:\n%s\n\nwhole output:\n%s", strings.Join(alerts, "\n"), strings.Join(tc.alerts, "\n"), out)
			}
			for _, s := range tc.shown {
				if !strings.Contains(out, s) {
					t.Errorf("output lacks %q:\n%s", s, out)
				}
			}
		})
	}
}
