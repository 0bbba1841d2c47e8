package notify

import (
	"fmt"
	"slices"
)

// Target is one channel a notification goes to, with the language the
// route asks for ("" to leave it to the channel).
type Target struct {
	Channel string
	Lang    string
}

// Router chooses the channels of a notification. The routes are tried in
// order; a matching route adds its channels and ends the routing, unless
// it sets Continue. When no route matches, the default route applies (if
// the notification's level reaches its MinLevel). A channel is listed
// once, with the language of the first route that chose it.
//
// A Router is immutable once built and safe for concurrent use.
type Router struct {
	routes []route
	def    route
}

// route is a RouteConfig prepared: nil sets match anything.
type route struct {
	tenants, teams, kinds map[string]bool
	min                   Level
	channels              []string
	lang                  string
	cont                  bool
}

// NewRouter returns the Router of cfg's routes and default route. cfg is
// validated first (Validate), so that a route never names an unknown
// channel.
func NewRouter(cfg Config) (*Router, error) {
	if err := cfg.Validate(""); err != nil {
		return nil, fmt.Errorf("notify: %w", err)
	}
	r := &Router{}
	for _, rc := range cfg.Routes {
		r.routes = append(r.routes, route{
			tenants:  set(rc.Tenants),
			teams:    set(rc.Teams),
			kinds:    set(rc.Kinds),
			min:      minLevel(rc.MinLevel),
			channels: slices.Clone(rc.Channels),
			lang:     rc.Lang,
			cont:     rc.Continue,
		})
	}
	r.def = route{
		min:      minLevel(cfg.DefaultRoute.MinLevel),
		channels: slices.Clone(cfg.DefaultRoute.Channels),
		lang:     cfg.DefaultRoute.Lang,
	}
	return r, nil
}

// Route returns the targets of n, in the routes' order; none when nothing
// matches.
func (r *Router) Route(n *Notification) []Target {
	var out []Target
	add := func(rt *route) {
		for _, ch := range rt.channels {
			if !slices.ContainsFunc(out, func(t Target) bool { return t.Channel == ch }) {
				out = append(out, Target{Channel: ch, Lang: rt.lang})
			}
		}
	}
	matched := false
	for i := range r.routes {
		rt := &r.routes[i]
		if !rt.match(n) {
			continue
		}
		matched = true
		add(rt)
		if !rt.cont {
			break
		}
	}
	if !matched && n.Level >= r.def.min {
		add(&r.def)
	}
	return out
}

// match reports whether n matches rt.
func (rt *route) match(n *Notification) bool {
	return n.Level >= rt.min && in(rt.tenants, n.Tenant) && in(rt.teams, n.Team) && in(rt.kinds, n.Kind)
}

// in reports whether s is in m; a nil m holds everything.
func in(m map[string]bool, s string) bool { return m == nil || m[s] }

// set returns the set of list, nil when list is empty.
func set(list []string) map[string]bool {
	if len(list) == 0 {
		return nil
	}
	m := make(map[string]bool, len(list))
	for _, s := range list {
		m[s] = true
	}
	return m
}

// minLevel returns the level named s, low when s is empty (Validate has
// refused an unknown name).
func minLevel(s string) Level {
	if l, err := ParseLevel(s); err == nil {
		return l
	}
	return LevelLow
}
