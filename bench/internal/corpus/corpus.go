// Package corpus turns the dialogue corpora vendored in the repository
// (testdata/corpora, located by internal/corpora) into the load's message
// bodies, for the bench's two scenarios:
//
//   - Traffic (the unique scenario): the Chinese and English service
//     dialogues replayed as conversations that evolve, customer and agent
//     turns on a simulated clock, every message varied so that only the
//     templated quick replies repeat;
//   - Load (the repeated scenario): the dialogues' agent turns as they are.
//
// In both a configurable share of the agent drafts carries planted private
// data, rude tone or off-platform contact, and the messages are keyed by
// many conversations and agents.
//
// Everything is deterministic for a seed, so every target of one run, and
// runs with the same flags, see the same message sequence.
package corpus

import (
	"bufio"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/xunjian/xunjian/internal/corpora"
)

// DefaultNames are the dialogue corpora the load draws agent turns from:
// Chinese travel service, English travel service, English coffee orders.
var DefaultNames = []string{"crosswoz_zh", "multiwoz_en", "taskmaster4_coffee_en"}

// Dir returns the corpora folder as an absolute path: flag when not empty
// (the --corpora flag), else the repository's vendored testdata/corpora
// (corpora.Dir).
func Dir(flag string) (string, error) {
	if flag == "" {
		return corpora.Dir()
	}
	abs, err := filepath.Abs(flag)
	if err != nil {
		return "", fmt.Errorf("corpora %s: %w", flag, err)
	}
	if st, err := os.Stat(abs); err != nil {
		return "", fmt.Errorf("corpora not found at %s (--corpora): %w", abs, err)
	} else if !st.IsDir() {
		return "", fmt.Errorf("corpora %s: not a directory", abs)
	}
	return abs, nil
}

// RepoRoot returns the repository root: the nearest folder at or above the
// working directory with this module's go.mod (corpora.Root).
func RepoRoot() (string, error) {
	return corpora.Root()
}

// Utterance is one line of a corpus's utterances.jsonl.
type Utterance struct {
	DialogueID string `json:"dialogue_id"`
	Turn       int    `json:"turn"`
	Role       string `json:"role"`
	Text       string `json:"text"`
}

// ReadJSONL reads one JSON object per line of path into []T.
func ReadJSONL[T any](path string) ([]T, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read corpus: %w", err)
	}
	defer f.Close()
	var out []T
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		if len(strings.TrimSpace(sc.Text())) == 0 {
			continue
		}
		var v T
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		out = append(out, v)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return out, nil
}

// Options choose the messages. The zero value is usable: the default
// corpora, every agent turn, nothing planted, 200 agents, seed 1.
type Options struct {
	// Names are the corpus folders to read utterances.jsonl from; nil means
	// DefaultNames.
	Names []string
	// MaxPerCorpus bounds the agent turns taken from each corpus (a
	// seeded sample); zero means all.
	MaxPerCorpus int
	// Privacy, Rude and Diversion are the shares of messages that get a
	// planted phone, ID or card number (or e-mail in English), a rude
	// phrase, or an invitation to move off-platform (加我微信 …). Each
	// message gets at most one plant; the shares must add up to at most 1.
	Privacy, Rude, Diversion float64
	// Agents is how many agent ids the conversations are spread over;
	// zero means 200.
	Agents int
	// Seed makes sampling, order and plants reproducible; zero means 1.
	Seed uint64
}

// Plant kinds recorded on a Message.
const (
	PlantNone      = ""
	PlantPrivacy   = "privacy"
	PlantRude      = "rude"
	PlantDiversion = "diversion"
)

// Sender roles of a Message.
const (
	RoleAgent    = "agent"
	RoleCustomer = "customer"
)

// Message is one message of the load: an agent draft or, in the unique
// scenario (Traffic), a customer message.
type Message struct {
	Corpus       string
	Conversation string
	Agent        string
	// Role is RoleAgent or RoleCustomer; empty means RoleAgent.
	Role string
	Text string
	// Lang is "zh" or "en", from the corpus name's suffix.
	Lang string
	// Plant is what was planted in Text (Plant* constants); PlantKind is
	// the privacy kind of a privacy plant (phone, id_card, bank_card,
	// email) and PlantValue the planted value or handle (empty for a rude
	// phrase).
	Plant, PlantKind, PlantValue string
	// TS is the message's time on the simulated clock of Traffic (zero in
	// the repeated scenario); Body sends it as "ts".
	TS time.Time
	// Turn is the index of the corpus turn the message varies, -1 for a
	// message Traffic inserted (a quick reply or a customer's follow-up).
	Turn int
	// Quick marks a templated quick reply (快捷短语), sent verbatim.
	Quick bool
	// FollowUp marks a customer's second message before the agent answered.
	FollowUp bool
	// Complaint marks a customer message with a planted complaint phrase.
	Complaint bool
}

// body is the JSON request body; ts is left out when zero.
type body struct {
	Conversation string    `json:"conversation_id"`
	Agent        string    `json:"agent_id"`
	Role         string    `json:"role"`
	TS           time.Time `json:"ts,omitzero"`
	Message      struct {
		Text string `json:"text"`
	} `json:"message"`
}

// Body is the JSON request body of m for the chat backend's send route:
// {"conversation_id", "agent_id", "role", "ts", "message": {"text"}}, ts
// only when m has one. The gateway's route reads it with the pointers in
// RoutePointers (it has no pointer for ts: it times a message by its own
// clock).
func (m Message) Body() []byte {
	role := m.Role
	if role == "" {
		role = RoleAgent
	}
	v := body{Conversation: m.Conversation, Agent: m.Agent, Role: role, TS: m.TS}
	v.Message.Text = m.Text
	b, err := json.Marshal(v)
	if err != nil { // strings and a time only: cannot happen
		panic(err)
	}
	return b
}

// RoutePointers are the JSON pointers of Body's fields, for a proxy route.
var RoutePointers = struct{ Text, Conversation, Agent, Role string }{
	Text: "/message/text", Conversation: "/conversation_id", Agent: "/agent_id", Role: "/role",
}

// Load reads the agent turns of the corpora in dir, plants what opts asks
// for, and returns them shuffled (conversations interleave, each one's
// turns in order of appearance).
func Load(dir string, opts Options) ([]Message, error) {
	if opts.Privacy < 0 || opts.Rude < 0 || opts.Diversion < 0 || opts.Privacy+opts.Rude+opts.Diversion > 1 {
		return nil, fmt.Errorf("plant shares privacy %.3f, rude %.3f, diversion %.3f: want each >= 0 and their sum <= 1",
			opts.Privacy, opts.Rude, opts.Diversion)
	}
	names := opts.Names
	if len(names) == 0 {
		names = DefaultNames
	}
	agents := opts.Agents
	if agents <= 0 {
		agents = 200
	}
	seed := opts.Seed
	if seed == 0 {
		seed = 1
	}
	r := rand.New(rand.NewPCG(seed, 0x78756e6a69616e)) // "xunjian"
	var out []Message
	for _, name := range names {
		utts, err := ReadJSONL[Utterance](filepath.Join(dir, name, "utterances.jsonl"))
		if err != nil {
			return nil, err
		}
		lang := "en"
		if strings.HasSuffix(name, "_zh") {
			lang = "zh"
		}
		var msgs []Message
		for _, u := range utts {
			if u.Role != "agent" || strings.TrimSpace(u.Text) == "" {
				continue
			}
			msgs = append(msgs, Message{
				Corpus: name, Conversation: name + "/" + u.DialogueID,
				Agent: fmt.Sprintf("agent-%03d", hash(u.DialogueID)%uint64(agents)),
				Role:  RoleAgent, Text: u.Text, Lang: lang, Turn: u.Turn,
			})
		}
		if len(msgs) == 0 {
			return nil, fmt.Errorf("corpus %s: no agent turns", name)
		}
		if opts.MaxPerCorpus > 0 && len(msgs) > opts.MaxPerCorpus {
			// Keep whole-corpus order: sample positions, not a prefix.
			keep := r.Perm(len(msgs))[:opts.MaxPerCorpus]
			mark := make([]bool, len(msgs))
			for _, i := range keep {
				mark[i] = true
			}
			sampled := msgs[:0:0]
			for i, m := range msgs {
				if mark[i] {
					sampled = append(sampled, m)
				}
			}
			msgs = sampled
		}
		out = append(out, msgs...)
	}
	for i := range out {
		m := &out[i]
		switch x := r.Float64(); {
		case x < opts.Privacy:
			p := PrivacyPlant(r, m.Lang)
			m.Text, m.Plant, m.PlantKind, m.PlantValue = joinPlant(m.Text, p.Text, m.Lang), PlantPrivacy, p.Kind, p.Value()
		case x < opts.Privacy+opts.Rude:
			m.Text, m.Plant = joinPlant(m.Text, pick(r, rudePhrases[m.Lang]), m.Lang), PlantRude
		case x < opts.Privacy+opts.Rude+opts.Diversion:
			text, handle := pick(r, diversionPlants[m.Lang])(r)
			m.Text, m.Plant, m.PlantValue = joinPlant(m.Text, text, m.Lang), PlantDiversion, handle
		}
	}
	interleave(r, out)
	return out, nil
}

// interleave shuffles msgs so that conversations mix while each
// conversation's turns keep their order: a random permutation of the
// message slots, then each conversation's turns dealt into its slots in
// order.
func interleave(r *rand.Rand, msgs []Message) {
	perm := r.Perm(len(msgs))
	shuffled := make([]Message, len(msgs))
	for i, p := range perm {
		shuffled[p] = msgs[i]
	}
	// Restore per-conversation order: collect each conversation's slots
	// (ascending) and its messages (original order), and pair them up.
	slots := map[string][]int{}
	for i, m := range shuffled {
		slots[m.Conversation] = append(slots[m.Conversation], i)
	}
	next := map[string]int{}
	for _, m := range msgs {
		s := slots[m.Conversation]
		shuffled[s[next[m.Conversation]]] = m
		next[m.Conversation]++
	}
	copy(msgs, shuffled)
}

func joinPlant(text, plant, lang string) string {
	s, _ := Join(text, plant, lang)
	return s
}

// Join appends plant to text as a new sentence ("。" in Chinese unless
// text already ends a sentence, a space in English) and returns the result
// and the code-point offset where plant starts in it.
func Join(text, plant, lang string) (string, int) {
	text = strings.TrimRight(text, " ")
	sep := " "
	if lang == "zh" {
		sep = "。"
		if r, _ := utf8.DecodeLastRuneInString(text); strings.ContainsRune("。！？!?；;", r) {
			sep = ""
		}
	}
	return text + sep + plant, utf8.RuneCountInString(text) + utf8.RuneCountInString(sep)
}

func hash(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

func pick[T any](r *rand.Rand, list []T) T { return list[r.IntN(len(list))] }
