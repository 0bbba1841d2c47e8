package xunjian
import rego.v1
decision := {"action": action, "reasons": [], "alerts": [], "sample": false}
default action := "allow"
action := "block" if {
    count(input.findings) > 0
    input.draft.role != "customer"
}
blocked_kinds contains k if { some f in input.findings; k := concat(".", [f.detector, f.kind]) }
