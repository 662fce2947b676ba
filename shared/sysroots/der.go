package sysroots

// rawSubject returns a DER certificate's subject Name, tag and length
// included (x509.Certificate.RawSubject), walking the structure
// (RFC 5280, 4.1) without decoding anything else. It accepts more than
// crypto/x509 does; what it accepts is parsed in full before it is
// trusted.
func rawSubject(der []byte) ([]byte, bool) {
	cert, _, ok := element(der, tagSequence)
	if !ok {
		return nil, false
	}
	tbs, _, ok := element(cert, tagSequence)
	if !ok {
		return nil, false
	}
	if len(tbs) > 0 && tbs[0] == tagVersion {
		if _, tbs, ok = skip(tbs, tagVersion); !ok {
			return nil, false
		}
	}
	for _, tag := range []byte{tagInteger, tagSequence, tagSequence, tagSequence} { // serial, signature, issuer, validity
		if _, tbs, ok = skip(tbs, tag); !ok {
			return nil, false
		}
	}
	subject, _, ok := skip(tbs, tagSequence)
	return subject, ok
}

const (
	tagInteger  = 0x02
	tagSequence = 0x30
	tagVersion  = 0xa0 // [0] EXPLICIT, constructed
)

// element returns the content of the DER element at the start of b, which
// must have tag, and what follows it.
func element(b []byte, tag byte) (content, rest []byte, ok bool) {
	whole, rest, ok := skip(b, tag)
	if !ok {
		return nil, nil, false
	}
	return whole[len(whole)-contentLen(whole):], rest, true
}

// skip returns the whole DER element at the start of b (tag, length and
// content), which must have tag, and what follows it. Lengths of up to
// four bytes are read; a certificate's are at most three.
func skip(b []byte, tag byte) (whole, rest []byte, ok bool) {
	if len(b) < 2 || b[0] != tag {
		return nil, nil, false
	}
	header, n := 2, int(b[1])
	if n >= 0x80 {
		size := n & 0x7f
		if size == 0 || size > 4 || len(b) < 2+size {
			return nil, nil, false
		}
		n = 0
		for _, c := range b[2 : 2+size] {
			n = n<<8 | int(c)
		}
		header += size
	}
	if n < 0 || n > len(b)-header {
		return nil, nil, false
	}
	return b[:header+n], b[header+n:], true
}

// contentLen is the length of a whole element's content.
func contentLen(whole []byte) int {
	if whole[1] < 0x80 {
		return int(whole[1])
	}
	return len(whole) - 2 - int(whole[1]&0x7f)
}
