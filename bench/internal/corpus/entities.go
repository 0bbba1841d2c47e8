package corpus

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// What agents and customers write beside the corpus sentences: the
// customer's name or nickname, the order number, amounts, dates and times,
// product names and sizes, tracking numbers. Each conversation of Traffic
// draws one identity (a name, an order, a product, a tracking number) and
// its turns mention it, with amounts, dates and times drawn per turn.

// identity is what one conversation is about.
type identity struct {
	name     string // how the agent addresses the customer
	order    string // the order number, with its keyword ("订单号2026…", "order #A-77812")
	orderNo  string // the bare order number
	product  string
	tracking string // the tracking number, with its keyword
}

var (
	zhSurnames  = []string{"张", "王", "李", "赵", "刘", "陈", "杨", "黄", "周", "吴", "徐", "孙", "马", "朱", "胡", "郭", "何", "林", "罗", "高", "梁", "宋", "郑", "谢", "韩", "唐", "冯", "于", "董", "萧"}
	zhTitles    = []string{"先生", "女士", "小姐"}
	zhNicknames = []string{"小雨", "阿杰", "糖糖", "小鹿", "大熊", "橙子", "可乐", "月亮", "团子", "阿飞", "小七", "木木", "豆豆", "甜甜", "乐乐", "小白", "阿宁", "果果", "晴天", "布丁"}
	enFirst     = []string{"Sarah", "James", "Emily", "Michael", "Olivia", "Daniel", "Sophia", "David", "Grace", "Ethan", "Chloe", "Ryan", "Hannah", "Lucas", "Mia", "Noah", "Ava", "Liam", "Zoe", "Owen", "Priya", "Wei", "Carlos", "Fatima", "Kenji", "Amara", "Mateo", "Ingrid", "Tariq", "Yuki"}
	enLast      = []string{"Patel", "Nguyen", "Smith", "Garcia", "Johnson", "Kim", "Brown", "Lopez", "Chen", "Walker", "Singh", "Murphy", "Rossi", "Cohen", "Okafor", "Silva", "Müller", "Novak", "Haddad", "Larsen"}
	enNicknames = []string{"jdawg", "coffeelover", "sunnyday", "kitkat", "mrsb", "techguy", "bookworm", "runnergirl", "dadof3", "nightowl"}

	zhCouriers = []string{"SF", "YT", "ZTO", "JD", "YD"}
	enMonths   = []string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}
)

// item is a product and the sizes it comes in.
type item struct {
	name  string
	sizes []string
}

var (
	zhItems = []item{
		{"加绒连帽卫衣", []string{"S码", "M码", "L码", "XL码", "XXL码"}}, {"羊毛围巾", []string{"均码"}},
		{"无线蓝牙耳机", []string{"标准版", "降噪版"}}, {"不锈钢保温杯", []string{"350ml", "500ml", "750ml"}},
		{"儿童防滑运动鞋", []string{"28码", "30码", "32码", "34码"}}, {"空气炸锅", []string{"3.5L", "5L"}},
		{"纯棉四件套", []string{"1.5米床", "1.8米床", "2米床"}}, {"防晒霜", []string{"50ml", "100ml"}},
		{"双肩电脑包", []string{"14英寸", "15.6英寸"}}, {"真丝睡衣", []string{"M码", "L码", "XL码"}},
		{"机械键盘", []string{"87键", "104键"}}, {"羽绒服", []string{"160/84A", "165/88A", "170/92A", "175/96A"}},
		{"瑜伽垫", []string{"6mm", "8mm", "10mm"}}, {"女士短靴", []string{"35码", "36码", "37码", "38码", "39码"}},
	}
	zhColors = []string{"黑色", "雾蓝", "奶白", "燕麦色", "酒红", "墨绿", "浅灰", "樱花粉"}
	enItems  = []item{
		{"Trail Runner 2 shoes", []string{"size 7", "size 8.5", "size 9.5", "size 11"}}, {"merino crew sweater", []string{"size S", "size M", "size L", "size XL"}},
		{"noise-cancelling headphones", []string{"standard", "Pro"}}, {"insulated water bottle", []string{"24 oz", "32 oz", "40 oz"}},
		{"kids' rain boots", []string{"size 10", "size 12", "size 1", "size 2"}}, {"air fryer", []string{"4 qt", "6 qt"}},
		{"linen duvet cover", []string{"full", "queen", "king"}}, {"SPF 50 sunscreen", []string{"3 oz", "6 oz"}},
		{"laptop backpack", []string{"14-inch", "16-inch"}}, {"silk pajama set", []string{"size S", "size M", "size L"}},
		{"mechanical keyboard", []string{"TKL", "full-size"}}, {"down jacket", []string{"size S", "size M", "size L", "size XL"}},
		{"yoga mat", []string{"4 mm", "6 mm"}}, {"ankle boots", []string{"size 6", "size 7", "size 8", "size 9"}},
	}
	enColors = []string{"black", "slate blue", "ivory", "oatmeal", "burgundy", "forest green", "heather grey", "blush"}
)

// newIdentity draws a conversation's identity in lang.
func newIdentity(r *rand.Rand, lang string) identity {
	if lang == "zh" {
		var name string
		switch r.IntN(3) {
		case 0, 1:
			name = pick(r, zhSurnames) + pick(r, zhTitles)
		default:
			name = pick(r, zhNicknames)
		}
		no := fmt.Sprintf("2026%02d%02d%08d", 1+r.IntN(12), 1+r.IntN(28), r.IntN(100000000))
		return identity{
			name: name, orderNo: no, order: "订单号" + no,
			product:  product(r, zhItems, zhColors, "%s（%s，%s）"),
			tracking: fmt.Sprintf("快递单号%s%013d", pick(r, zhCouriers), r.Int64N(10000000000000)),
		}
	}
	var name string
	switch r.IntN(4) {
	case 0, 1:
		name = pick(r, enFirst)
	case 2:
		name = pick(r, []string{"Mr. ", "Ms. ", "Dr. "}) + pick(r, enLast)
	default:
		name = fmt.Sprintf("%s%d", pick(r, enNicknames), 1+r.IntN(99))
	}
	var no string
	if r.IntN(2) == 0 {
		no = fmt.Sprintf("#%c-%05d", 'A'+rune(r.IntN(26)), r.IntN(100000))
	} else {
		no = fmt.Sprintf("#W%09d", r.IntN(1000000000))
	}
	return identity{
		name: name, orderNo: no, order: "order " + no,
		product:  product(r, enItems, enColors, "%s (%s, %s)"),
		tracking: fmt.Sprintf("tracking number 1Z%s%010d", strings.ToUpper(token(r, 6)), r.Int64N(10000000000)),
	}
}

// product draws a product with a colour and one of its sizes.
func product(r *rand.Rand, items []item, colors []string, format string) string {
	it := pick(r, items)
	return fmt.Sprintf(format, it.name, pick(r, colors), pick(r, it.sizes))
}

// amount draws a price or refund: ¥128.50, 86元, $42.99.
func amount(r *rand.Rand, lang string) string {
	yuan, fen := 5+r.IntN(2995), r.IntN(100)
	if lang == "zh" {
		if r.IntN(3) == 0 {
			return fmt.Sprintf("%d元", yuan)
		}
		return fmt.Sprintf("¥%d.%02d", yuan, fen)
	}
	return fmt.Sprintf("$%d.%02d", yuan/7+1, fen)
}

// date draws a day: 12月8日, Dec 8.
func date(r *rand.Rand, lang string) string {
	m, d := 1+r.IntN(12), 1+r.IntN(28)
	if lang == "zh" {
		return fmt.Sprintf("%d月%d日", m, d)
	}
	return fmt.Sprintf("%s %d", enMonths[m-1], d)
}

// clock draws a time of day: 15:30, 下午3点, 3:30 PM.
func clock(r *rand.Rand, lang string) string {
	h, m := 8+r.IntN(14), 5*r.IntN(12)
	if lang == "zh" {
		if r.IntN(2) == 0 {
			return fmt.Sprintf("%02d:%02d", h, m)
		}
		if h < 12 {
			return fmt.Sprintf("上午%d点", h)
		}
		return fmt.Sprintf("下午%d点", h-12)
	}
	suffix := "AM"
	if h >= 12 {
		suffix = "PM"
	}
	if h > 12 {
		h -= 12
	}
	return fmt.Sprintf("%d:%02d %s", h, m, suffix)
}

// A frame is a sentence with slots: {name} {order} {product} {tracking}
// from the identity, {amount} {date} {time} drawn on each use.
var (
	agentPrefixes = map[string][]string{
		"zh": {"{name}，", "{name}您好，", "亲爱的{name}，", "{name}，让您久等了，"},
		"en": {"Hi {name}, ", "{name}, ", "Hello {name}! ", "Thanks, {name}. "},
	}
	agentSuffixes = map[string][]string{
		"zh": {
			"您的{order}已为您备注。",
			"{order}实付{amount}。",
			"您买的{product}预计{date}发货。",
			"{tracking}，预计{date}{time}前送达。",
			"已为您申请{amount}的补偿，{date}前到账。",
			"{product}目前有货，今天{time}前下单当天发。",
			"{order}的退款{amount}已原路退回。",
			"师傅会在{date}{time}左右上门。",
		},
		"en": {
			"I've added a note to {order}.",
			"Your {order} came to {amount}.",
			"Your {product} ships on {date}.",
			"Your {tracking} is due {date} by {time}.",
			"I've issued a {amount} credit, it should post by {date}.",
			"The {product} is in stock if you order before {time}.",
			"The refund of {amount} for {order} is on its way.",
			"Your pickup is booked for {date} at {time}.",
		},
	}
	customerSuffixes = map[string][]string{
		"zh": {"我的{order}", "{date}下的单，付了{amount}", "我买的是{product}", "{tracking}一直没更新", "{order}，麻烦看一下", "{time}之前能给我回复吗"},
		"en": {"my {order}", "I ordered on {date} and paid {amount}", "it's the {product}", "my {tracking} hasn't moved", "it's {order}", "can you get back to me before {time}"},
	}
	// followUps are a customer's second message while the agent has not
	// answered yet.
	followUps = map[string][]string{
		"zh": {"在吗？{order}到底怎么样了", "人呢？还在等回复，{date}之前能到吗", "怎么还没回复？我的{product}呢", "在不在啊，{tracking}还是没动"},
		"en": {"Hello? Still waiting about {order}.", "Anyone there? I need the {product} by {date}.", "Still no answer... {tracking} hasn't moved.", "Hi, any update on {order}?"},
	}
	// complaintPhrases raise a conversation's complaint risk: each is an
	// escalation the complaint detector finds (TestTrafficPlantsAreFound).
	complaintPhrases = map[string][]string{
		"zh": {"再不处理我就打12315投诉", "你们这服务太差了，我要投诉", "不给解决我就申请平台介入", "再拖我就去消协投诉你们", "我要找律师起诉你们"},
		"en": {"if this isn't fixed I'll file a complaint with the BBB", "I'm going to dispute the charge with my bank", "I want to speak to a manager", "I'll leave a one-star review and report you to the Better Business Bureau"},
	}
	// quickReplies are the templated quick replies (快捷短语) agents send
	// verbatim, by position: opening the conversation, asking for a
	// moment before an answer, closing.
	quickReplies = map[string]map[string][]string{
		"zh": {
			"open":  {"亲，您好，很高兴为您服务", "您好，欢迎光临，请问有什么可以帮您？", "亲，在的哦，请问有什么可以帮到您~"},
			"hold":  {"亲，请稍等，正在为您查询~", "好的亲，马上帮您核实一下", "感谢您的耐心等待"},
			"close": {"还有其他可以帮您的吗？", "祝您生活愉快，再见~", "感谢您的支持，有问题随时联系我们哦"},
		},
		"en": {
			"open":  {"Thanks for reaching out! Let me check that for you.", "Hi there, thanks for contacting us! How can I help today?", "Hello! Happy to help with that."},
			"hold":  {"One moment please while I look into this.", "Let me check that for you, it will just take a minute.", "Thank you for your patience."},
			"close": {"Is there anything else I can help you with?", "Have a great day!", "Thanks for contacting us, take care!"},
		},
	}
)

// fill replaces a frame's slots.
func fill(r *rand.Rand, frame, lang string, id identity) string {
	i := strings.IndexByte(frame, '{')
	if i < 0 {
		return frame
	}
	var b strings.Builder
	b.Grow(len(frame) + 48)
	for i >= 0 {
		b.WriteString(frame[:i])
		frame = frame[i:]
		j := strings.IndexByte(frame, '}')
		switch frame[:j+1] {
		case "{name}":
			b.WriteString(id.name)
		case "{order}":
			b.WriteString(id.order)
		case "{product}":
			b.WriteString(id.product)
		case "{tracking}":
			b.WriteString(id.tracking)
		case "{amount}":
			b.WriteString(amount(r, lang))
		case "{date}":
			b.WriteString(date(r, lang))
		case "{time}":
			b.WriteString(clock(r, lang))
		default:
			panic("corpus: unknown slot " + frame[:j+1])
		}
		frame = frame[j+1:]
		i = strings.IndexByte(frame, '{')
	}
	b.WriteString(frame)
	return b.String()
}

// withPrefix puts an English address ("Hi Sarah, ") before text, its first
// word in lower case after a comma unless it is "I" or an acronym.
func withPrefix(prefix, text, lang string) string {
	if lang == "en" && strings.HasSuffix(prefix, ", ") && len(text) > 1 {
		if c, d := text[0], text[1]; c >= 'A' && c <= 'Z' && d >= 'a' && d <= 'z' {
			text = string(c+'a'-'A') + text[1:]
		}
	}
	return prefix + text
}

// appendSentence adds s to text as a sentence of its own in lang: after
// "。" (unless text ends a sentence) in Chinese, after ". " in English
// (a space if text ends a sentence).
func appendSentence(text, s, lang string) string {
	text = strings.TrimRight(text, " ")
	if text == "" {
		return s
	}
	if lang == "zh" {
		out, _ := Join(text, s, lang)
		return out
	}
	if c := s[0]; c >= 'a' && c <= 'z' {
		s = string(c-'a'+'A') + s[1:]
	}
	if strings.ContainsAny(text[len(text)-1:], ".!?") {
		return text + " " + s
	}
	return text + ". " + s
}
