package httpapi

import "testing"

func TestLoneSurrogate(t *testing.T) {
	for body, lone := range map[string]bool{
		`{"a":"\ud800"}`:             true,
		`{"a":"\udc00"}`:             true,
		`{"a":"\uDBFF x"}`:           true,
		`{"a":"\ud800\u0041"}`:       true,
		`{"a":"\ud800\ud800"}`:       true,
		`{"a":"x\ud800`:              true,
		`{"a":"\ud83d\ude00"}`:       false, // a pair: U+1F600
		`{"a":"\\ud800"}`:            false, // a backslash, then text
		`{"a":"\\\ud83d\ude00"}`:     false,
		`{"a":"\\\ud800"}`:           true,
		`{"a":"\u00e9\ue000\uffff"}`: false,
		`{"a":"\u12"}`:               false, // malformed: the decoder refuses it
		`{"a":"\"\\"}`:               false,
		`\`:                          false,
	} {
		if got := loneSurrogate([]byte(body)); got != lone {
			t.Errorf("loneSurrogate(%s) = %t, want %t", body, got, lone)
		}
	}
}
