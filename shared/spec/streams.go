package spec

// NamedStream is a vendor package's own stream definition (its endpoint,
// event types, …), which the package keeps in a table in the seed's order.
type NamedStream interface{ StreamName() string }

// StreamNames returns the names of defs, in their order.
func StreamNames[S NamedStream](defs []S) []string {
	out := make([]string, 0, len(defs))
	for _, s := range defs {
		out = append(out, s.StreamName())
	}
	return out
}

// FindStream returns the definition named name.
func FindStream[S NamedStream](defs []S, name string) (S, bool) {
	for _, s := range defs {
		if s.StreamName() == name {
			return s, true
		}
	}
	var zero S
	return zero, false
}
