package xunjian.custom

# Copies the draft's text where an action belongs.
reasons contains {"rule": "echo.text", "action": input.draft.text, "message": "m"} if {
	input.draft.text != ""
}
