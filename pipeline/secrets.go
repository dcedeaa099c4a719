package pipeline

import (
	"net/url"
	"strings"
)

// Secrets returns the secret values of the config, for a log handler that must never
// print them: every non-empty value of a field declared Secret (passwords, tokens), and
// the password of every URL with one in its user info (tcp://user:pass@host, also each
// URL of a comma-separated list), decoded and as written, found in any string field. Duplicates are removed.
func (c *Config) Secrets() []string {
	seen := map[string]bool{}
	var out []string
	add := func(s string) {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	confs := append([]*Conf{c.Top, c.Input, c.Store, c.Summarize, c.Output}, c.Pipeline...)
	for _, cf := range confs {
		if cf == nil {
			continue
		}
		for _, f := range cf.Spec.Fields {
			var vals []string
			switch v := cf.value(f).(type) {
			case string:
				vals = []string{v}
			case []string:
				vals = v
			case map[string]string:
				for _, s := range v {
					vals = append(vals, s)
				}
			}
			for _, v := range vals {
				if f.Secret {
					add(v)
				}
				for _, part := range strings.Split(v, ",") {
					if u, err := url.Parse(strings.TrimSpace(part)); err == nil && u.User != nil {
						p, _ := u.User.Password()
						add(p)
						if _, enc, ok := strings.Cut(u.User.String(), ":"); ok {
							add(enc) // as written in the URL, percent-encoded
						}
					}
				}
			}
		}
	}
	return out
}
