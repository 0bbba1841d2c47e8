// Package envvar checks the names of environment variables that
// configuration files give for secrets (api_key_env, token_env, …), so a
// typo or a secret pasted in place of its variable's name is refused at
// start rather than read as an empty secret.
package envvar

// Name reports whether s can name an environment variable: letters,
// digits and underscores, not starting with a digit, at most 128 bytes.
func Name(s string) bool {
	if s == "" || len(s) > 128 || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !(b >= 'A' && b <= 'Z' || b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '_') {
			return false
		}
	}
	return true
}
