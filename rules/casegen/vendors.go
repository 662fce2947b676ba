package casegen

// Vendors returns the registrations of the three integrations, each with
// its collector run against its simulator. After a change to a collector,
// a simulator or a rule, regenerate the cases (go run
// ./rules/casegen/gencases) and run the rule tests.
func Vendors() []*Vendor {
	return []*Vendor{OnePassword(), Proofpoint(), CortexXDR()}
}
