package spool

import (
	"encoding/binary"
	"hash/crc32"
)

// On-disk record layout (little endian), headerSize bytes of header followed
// by key and value:
//
//	0      magic    (recordMagic)
//	1      version  (recordVersion)
//	2      flags    (0; reserved)
//	3      reserved (0)
//	4..8   key length   u32
//	8..12  value length u32
//	12..16 CRC32C (Castagnoli) over bytes 0..12, key and value
//
// Records are length-prefixed, so a record whose CRC fails but whose header is
// sane can be skipped and the next one found; a record whose header is not sane
// ends the readable part of its segment.
const (
	headerSize    = 16
	recordMagic   = 0xA7
	recordVersion = 1

	// MaxRecordBytes bounds one encoded record (header, key and value). An
	// Append larger than this fails with ErrTooLarge.
	MaxRecordBytes = 1 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// encodedSize is the on-disk size of a record with the given key and value.
func encodedSize(key, value []byte) int { return headerSize + len(key) + len(value) }

// appendRecord appends the encoding of (key, value) to dst.
func appendRecord(dst, key, value []byte) []byte {
	start := len(dst)
	var h [headerSize]byte
	h[0] = recordMagic
	h[1] = recordVersion
	binary.LittleEndian.PutUint32(h[4:8], uint32(len(key)))
	binary.LittleEndian.PutUint32(h[8:12], uint32(len(value)))
	dst = append(dst, h[:]...)
	dst = append(dst, key...)
	dst = append(dst, value...)
	crc := crc32.Update(0, castagnoli, dst[start:start+12])
	crc = crc32.Update(crc, castagnoli, dst[start+headerSize:])
	binary.LittleEndian.PutUint32(dst[start+12:start+16], crc)
	return dst
}

// header is a decoded record header.
type header struct {
	keyLen, valLen int
	crc            uint32
}

// size is the encoded size of the record the header describes.
func (h header) size() int { return headerSize + h.keyLen + h.valLen }

// parseHeader decodes b[:headerSize]. ok is false when the header is not
// sane (wrong magic, version or flags, or a size above MaxRecordBytes); such a
// header cannot be trusted to locate the next record.
func parseHeader(b []byte) (h header, ok bool) {
	if len(b) < headerSize || b[0] != recordMagic || b[1] != recordVersion || b[2] != 0 || b[3] != 0 {
		return header{}, false
	}
	k := binary.LittleEndian.Uint32(b[4:8])
	v := binary.LittleEndian.Uint32(b[8:12])
	if uint64(k)+uint64(v)+headerSize > MaxRecordBytes {
		return header{}, false
	}
	return header{keyLen: int(k), valLen: int(v), crc: binary.LittleEndian.Uint32(b[12:16])}, true
}

// checkCRC reports whether rec (a whole record: header, key, value) matches
// the CRC in its header.
func checkCRC(h header, rec []byte) bool {
	crc := crc32.Update(0, castagnoli, rec[:12])
	crc = crc32.Update(crc, castagnoli, rec[headerSize:h.size()])
	return crc == h.crc
}
