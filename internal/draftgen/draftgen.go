// Package draftgen makes agent drafts for benchmarks, each a new text as
// agents write them: order numbers, amounts, names, places and dates
// change from one draft to the next, so a cache keyed on the text never
// hits. One in ten templates breaks a rule, as on a real desk: a phone in
// clear, an off-platform contact, impatience, a promise, an address.
package draftgen

import "fmt"

// templates take, in order: an order number, a month, a day, an amount, a
// name, a place and a phone number's last eight digits.
var templates = [...]string{
	"您好，您的订单%[1]d已经发货了，预计%[2]d月%[3]d日送达，请耐心等待",
	"亲，订单%[1]d的退款%[4]d.%02[3]d元已经原路退回，一般1-3个工作日到账哦",
	"%[5]s您好，这边帮您查询到运单%[1]d的包裹在%[6]s中转站，明天派送",
	"您的手机号是138%08[7]d对吧？我帮您登记一下",
	"这个问题我已经说了%[3]d遍了，您自己看订单%[1]d的详情",
	"亲，加我微信wx%[1]d，我私下给您补%[4]d元",
	"Hi %[5]s, your order #%[1]d ships on %[2]d/%[3]d; the refund of $%[4]d is on its way.",
	"不好意思让您久等了，订单%[1]d的发票我们%[3]d个工作日内开好发到您邮箱",
	"您好，核对一下订单%[1]d的收货地址：%[6]s路%[3]d号，收件人%[5]s，对吗？",
	"我保证今天之内给您订单%[1]d全额退款%[4]d元，不满意随时找我",
}

var (
	names  = [...]string{"王先生", "李女士", "张小姐", "陈先生", "Alice", "Bob", "刘阿姨", "赵同学"}
	places = [...]string{"杭州", "上海浦东", "广州白云", "成都双流", "北京朝阳", "深圳南山"}
)

// Templates is how many templates Unique cycles through: Unique(i) and
// Unique(i+Templates) differ only in their numbers, names and places.
const Templates = len(templates)

// Unique returns the i-th draft; no two i below a million give the same
// text (each carries an order number i*7919 mod 10^6 apart, and 7919 is
// prime to 10^6).
func Unique(i int) string {
	return fmt.Sprintf(templates[i%len(templates)], 202612000000+i*7919%1000000, 1+i%12, 1+i%28, 10+i*37%990,
		names[i%len(names)], places[i%len(places)], i*7919%100000000)
}
