package infra

import (
	"os"
	"testing"

	"github.com/wazuh-pull/wazuh-pull/infra/cost"
)

// TestCostTableInREADME: the README's cost table is the cost model's
// output for the measured figures.
func TestCostTableInREADME(t *testing.T) {
	f, err := cost.Measured()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	got, ok := cost.TableIn(string(doc))
	if !ok {
		t.Fatalf("infra/README.md has no %q … %q markers", cost.BeginMarker, cost.EndMarker)
	}
	if want := cost.Table(f, cost.Default, cost.USEast1); got != want {
		t.Fatalf("infra/README.md's cost table is not the model's output; regenerate it:\n\tgo run ./infra/cmd/costmodel -readme infra/README.md")
	}
}
