package match

import "testing"

const benchSrc = `any(identity.groups.name[*] in {"Engineering" "SRE" "Platform"}) and ` +
	`(os.name == "windows" and os.version matches r"^10\.0\.(19|22)" or ` +
	`os.name == "mac" and not device.model contains "Mini") and ` +
	`identity.email matches "@example\.com$"`

func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(benchSrc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEval(b *testing.B) {
	e, err := Parse(benchSrc)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if !e.Eval(alice) {
			b.Fatal("alice does not match")
		}
	}
}
