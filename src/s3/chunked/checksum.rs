//! The S3 flexible checksums a trailing `x-amz-checksum-*` header can carry, computed
//! incrementally over the decoded payload so a trailer can be checked without keeping the body.

use sha2::Digest as _;

/// A checksum algorithm S3 accepts in `x-amz-trailer` / `x-amz-checksum-*`.
///
/// Values travel as the standard base64 (with padding) of the big-endian checksum bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChecksumAlgorithm {
    /// CRC-32 (ISO-HDLC, as zlib): `x-amz-checksum-crc32`.
    Crc32,
    /// CRC-32C (Castagnoli): `x-amz-checksum-crc32c`.
    Crc32c,
    /// CRC-64/NVME: `x-amz-checksum-crc64nvme`.
    Crc64Nvme,
    /// SHA-1: `x-amz-checksum-sha1`.
    Sha1,
    /// SHA-256: `x-amz-checksum-sha256`.
    Sha256,
}

/// Every algorithm (for the name lookups, and for the tests to go through).
pub(super) const ALL: [ChecksumAlgorithm; 5] = [
    ChecksumAlgorithm::Crc32,
    ChecksumAlgorithm::Crc32c,
    ChecksumAlgorithm::Crc64Nvme,
    ChecksumAlgorithm::Sha1,
    ChecksumAlgorithm::Sha256,
];

impl ChecksumAlgorithm {
    /// The algorithm whose header is named by an `x-amz-trailer` value such as
    /// `x-amz-checksum-crc32` (case-insensitive, surrounding whitespace ignored).
    pub fn from_trailer_name(name: &str) -> Option<Self> {
        let name = name.trim();
        ALL.into_iter()
            .find(|a| a.trailer_name().eq_ignore_ascii_case(name))
    }

    /// The algorithm named by `x-amz-sdk-checksum-algorithm` (`CRC32`, `CRC32C`, `CRC64NVME`,
    /// `SHA1`, `SHA256`; case-insensitive).
    pub fn from_sdk_name(name: &str) -> Option<Self> {
        let name = name.trim();
        ALL.into_iter()
            .find(|a| a.sdk_name().eq_ignore_ascii_case(name))
    }

    /// The lower-case header that carries this checksum, e.g. `x-amz-checksum-crc32c`.
    pub fn trailer_name(self) -> &'static str {
        match self {
            ChecksumAlgorithm::Crc32 => "x-amz-checksum-crc32",
            ChecksumAlgorithm::Crc32c => "x-amz-checksum-crc32c",
            ChecksumAlgorithm::Crc64Nvme => "x-amz-checksum-crc64nvme",
            ChecksumAlgorithm::Sha1 => "x-amz-checksum-sha1",
            ChecksumAlgorithm::Sha256 => "x-amz-checksum-sha256",
        }
    }

    /// The name S3 uses in `x-amz-sdk-checksum-algorithm` and in error messages, e.g. `CRC32C`.
    pub fn sdk_name(self) -> &'static str {
        match self {
            ChecksumAlgorithm::Crc32 => "CRC32",
            ChecksumAlgorithm::Crc32c => "CRC32C",
            ChecksumAlgorithm::Crc64Nvme => "CRC64NVME",
            ChecksumAlgorithm::Sha1 => "SHA1",
            ChecksumAlgorithm::Sha256 => "SHA256",
        }
    }

    /// A fresh incremental checksum of this kind.
    pub(crate) fn hasher(self) -> Checksummer {
        match self {
            ChecksumAlgorithm::Crc32 => Checksummer::Crc32(crc32fast::Hasher::new()),
            ChecksumAlgorithm::Crc32c => Checksummer::Crc32c(0),
            ChecksumAlgorithm::Crc64Nvme => Checksummer::Crc64Nvme(!0),
            ChecksumAlgorithm::Sha1 => Checksummer::Sha1(<sha1::Sha1 as sha1::Digest>::new()),
            ChecksumAlgorithm::Sha256 => Checksummer::Sha256(sha2::Sha256::new()),
        }
    }
}

/// An incremental checksum over the decoded payload.
#[derive(Clone)]
pub(crate) enum Checksummer {
    Crc32(crc32fast::Hasher),
    /// The running CRC-32C as `crc32c_append` takes it.
    Crc32c(u32),
    /// The running CRC-64/NVME register (before the final inversion).
    Crc64Nvme(u64),
    Sha1(sha1::Sha1),
    Sha256(sha2::Sha256),
}

impl Checksummer {
    pub(crate) fn update(&mut self, data: &[u8]) {
        match self {
            Checksummer::Crc32(h) => h.update(data),
            Checksummer::Crc32c(crc) => *crc = crc32c::crc32c_append(*crc, data),
            Checksummer::Crc64Nvme(reg) => *reg = crc64nvme_update(*reg, data),
            Checksummer::Sha1(h) => sha1::Digest::update(h, data),
            Checksummer::Sha256(h) => h.update(data),
        }
    }

    /// The checksum bytes (big-endian for the CRCs), as S3 base64-encodes them.
    pub(crate) fn finalize(self) -> Vec<u8> {
        match self {
            Checksummer::Crc32(h) => h.finalize().to_be_bytes().to_vec(),
            Checksummer::Crc32c(crc) => crc.to_be_bytes().to_vec(),
            Checksummer::Crc64Nvme(reg) => (!reg).to_be_bytes().to_vec(),
            Checksummer::Sha1(h) => sha1::Digest::finalize(h).to_vec(),
            Checksummer::Sha256(h) => h.finalize().to_vec(),
        }
    }
}

/// CRC-64/NVME: reflected, polynomial 0xad93d23594c93659 (0x9a6c9329ac4bc9b5 reversed),
/// init and xorout all ones. No crate in the dependency tree offers it outside the dev
/// dependencies, and a byte-wise table is plenty next to the SHA-256 a signed chunk needs.
const CRC64NVME_POLY_REFLECTED: u64 = 0x9a6c_9329_ac4b_c9b5;

const CRC64NVME_TABLE: [u64; 256] = {
    let mut table = [0u64; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u64;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ CRC64NVME_POLY_REFLECTED
            } else {
                crc >> 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
};

fn crc64nvme_update(mut reg: u64, data: &[u8]) -> u64 {
    for &b in data {
        reg = CRC64NVME_TABLE[((reg ^ u64::from(b)) & 0xff) as usize] ^ (reg >> 8);
    }
    reg
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    fn digest(alg: ChecksumAlgorithm, data: &[u8]) -> Vec<u8> {
        let mut h = alg.hasher();
        h.update(data);
        h.finalize()
    }

    #[test]
    fn crc_check_values() {
        // The catalogue "check" values: each CRC of the ASCII bytes "123456789".
        let check = b"123456789";
        assert_eq!(
            digest(ChecksumAlgorithm::Crc32, check),
            0xcbf4_3926u32.to_be_bytes()
        );
        assert_eq!(
            digest(ChecksumAlgorithm::Crc32c, check),
            0xe306_9283u32.to_be_bytes()
        );
        assert_eq!(
            digest(ChecksumAlgorithm::Crc64Nvme, check),
            0xae8b_1486_0a79_9888u64.to_be_bytes()
        );
    }

    #[test]
    fn split_updates_match_one_shot() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7 + 3) as u8).collect();
        for alg in ALL {
            let mut h = alg.hasher();
            for piece in data.chunks(333) {
                h.update(piece);
            }
            assert_eq!(h.finalize(), digest(alg, &data), "{alg:?}");
        }
    }

    #[test]
    fn aws_trailer_example_crc32c() {
        // AWS "sigv4-streaming-trailers" example: 66560 bytes of 'a', x-amz-checksum-crc32c:sOO8/Q==
        let got = digest(ChecksumAlgorithm::Crc32c, &[b'a'; 66560]);
        assert_eq!(
            base64::engine::general_purpose::STANDARD.encode(got),
            "sOO8/Q=="
        );
    }

    #[test]
    fn names_round_trip() {
        for alg in ALL {
            assert_eq!(
                ChecksumAlgorithm::from_trailer_name(alg.trailer_name()),
                Some(alg)
            );
            let upper = alg.trailer_name().to_ascii_uppercase();
            assert_eq!(ChecksumAlgorithm::from_trailer_name(&upper), Some(alg));
            assert_eq!(ChecksumAlgorithm::from_sdk_name(alg.sdk_name()), Some(alg));
        }
        assert_eq!(
            ChecksumAlgorithm::from_trailer_name("x-amz-checksum-md5"),
            None
        );
        assert_eq!(ChecksumAlgorithm::from_sdk_name("MD5"), None);
    }
}
