package xunjian

# Rules that are constants (data only) and rules that are not, for
# TestConstantRules and TestConstantsUnderWith.

# Constants.
table := {k: v | some k, v in data.xunjian.config.actions}

via := count(table)

n := data.xunjian.config.n

double(x) := 2 * x

doubled := double(n)

tags contains t if some t, _ in table

tag_count := count(tags)

# Not constants: they read the input, call the clock, use a with, or
# depend on a rule that does.
reads_input := input.draft.text

via_input := count(reads_input) # the text's length

doubled_input := double(count(input.findings))

clock := time.now_ns()

# A constant after all: the gateway compiles policies without print
# statements, so the call is gone.
printed := 1 if print("evaluated")

replaced := m if m := n with data.xunjian.config.n as 7

# The decision reads them all (a with on a constant, then the constant).
decision := {
	"action": "allow", "reasons": [], "alerts": [], "sample": false, "shadow": [],
	"replaced": replaced, "n": n, "via": via, "doubled": doubled, "tag_count": tag_count,
	"via_input": via_input, "doubled_input": doubled_input, "printed": printed,
	"clock": clock > 0,
}
