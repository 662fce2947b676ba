package casegen

// Vendors returns the registrations of the three integrations. To switch a
// vendor from its stand-in to its collector, give its registration a
// Generator with Origin OriginCollector whose Run drives the collector
// against its simulator (as GenerateOnePassword does), then regenerate the
// cases (go run ./rules/casegen/gencases) and run the rule tests.
func Vendors() []*Vendor {
	return []*Vendor{OnePassword(), Proofpoint(), CortexXDR()}
}
