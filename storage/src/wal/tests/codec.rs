use super::super::WalError;
use super::super::record::{
    HeaderCheck, MAX_RECORD_BYTES, RECORD_HEADER_BYTES, SEGMENT_HEADER, SegmentEnd, check_header,
    decode_records, encode_record, validate_payload,
};
use super::segment_image;

#[test]
fn a_record_is_framed_with_length_and_crc() {
    let mut framed = Vec::new();
    encode_record(b"hello", &mut framed).expect("encodes");
    assert_eq!(framed.len(), RECORD_HEADER_BYTES + 5);
    assert_eq!(framed[..4], 5u32.to_le_bytes());
    assert_eq!(framed[4..8], crc32fast::hash(b"hello").to_le_bytes());
    assert_eq!(&framed[8..], b"hello");
}

#[test]
fn records_round_trip_through_the_codec() {
    let records = vec![b"a".to_vec(), vec![7u8; 1000], b"third".to_vec()];
    let (image, record_ends) = segment_image(&records);
    let decoded = decode_records(&image);
    assert_eq!(decoded.end, SegmentEnd::Clean);
    assert_eq!(decoded.valid_len, image.len());
    assert_eq!(decoded.valid_len, record_ends[2]);
    let decoded_payloads: Vec<&[u8]> = decoded
        .payloads
        .iter()
        .map(|range| &image[range.clone()])
        .collect();
    assert_eq!(
        decoded_payloads,
        vec![&records[0][..], &records[1][..], &records[2][..]]
    );
}

#[test]
fn empty_and_oversized_payloads_are_rejected() {
    assert!(matches!(validate_payload(b""), Err(WalError::EmptyRecord)));
    assert!(validate_payload(&vec![0u8; MAX_RECORD_BYTES]).is_ok());
    let oversized = vec![0u8; MAX_RECORD_BYTES + 1];
    assert!(matches!(
        validate_payload(&oversized),
        Err(WalError::TooLarge { size, limit }) if size == MAX_RECORD_BYTES + 1 && limit == MAX_RECORD_BYTES
    ));
    let mut framed = Vec::new();
    assert!(encode_record(&oversized, &mut framed).is_err());
    assert!(framed.is_empty(), "nothing written for a rejected payload");
}

#[test]
fn headers_are_classified() {
    assert_eq!(check_header(SEGMENT_HEADER), HeaderCheck::Valid);
    assert_eq!(check_header(b""), HeaderCheck::Partial);
    assert_eq!(check_header(b"VWA"), HeaderCheck::Partial);
    assert_eq!(check_header(b"VWAL"), HeaderCheck::Partial);
    assert_eq!(check_header(b"VX"), HeaderCheck::Foreign);
    assert_eq!(check_header(b"PAR1\x01rest"), HeaderCheck::Foreign);
    assert_eq!(
        check_header(b"VWAL\x02"),
        HeaderCheck::UnsupportedVersion(2)
    );
}

#[test]
fn a_zeroed_tail_is_not_read_as_records() {
    let (mut image, record_ends) = segment_image(&[b"kept".to_vec()]);
    image.extend_from_slice(&[0u8; 64]);
    let decoded = decode_records(&image);
    assert_eq!(decoded.payloads.len(), 1);
    assert_eq!(decoded.valid_len, record_ends[0]);
    assert!(matches!(decoded.end, SegmentEnd::Corrupt { offset, .. } if offset == record_ends[0]));
}

#[test]
fn a_length_over_the_limit_is_corrupt_not_torn() {
    let (mut image, record_ends) = segment_image(&[b"kept".to_vec()]);
    image.extend_from_slice(&u32::MAX.to_le_bytes());
    image.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
    let decoded = decode_records(&image);
    assert_eq!(decoded.payloads.len(), 1);
    assert!(matches!(decoded.end, SegmentEnd::Corrupt { offset, .. } if offset == record_ends[0]));
}

#[test]
fn a_short_record_is_torn() {
    let (image, record_ends) = segment_image(&[b"kept".to_vec(), b"cut short".to_vec()]);
    let decoded = decode_records(&image[..image.len() - 1]);
    assert_eq!(decoded.payloads.len(), 1);
    assert_eq!(
        decoded.end,
        SegmentEnd::Torn {
            offset: record_ends[0]
        }
    );
}
