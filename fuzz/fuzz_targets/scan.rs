//! Any bytes as a COCO file: the scan never panics or hangs; it gives the same result whatever
//! the window size; it accepts exactly the documents the value parser accepts (a schema error
//! only for valid JSON); and every record it finds parses where it says the record starts.
#![no_main]
use cocors_core::index::json::{parse_document, parse_value};
use cocors_core::index::scan::{scan, Document, Kind};
use cocors_core::Error;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let small = scan(data, 7, Document::Coco);
    let large = scan(data, 1 << 16, Document::Coco);
    match (&small, &large) {
        (Ok(a), Ok(b)) => {
            for kind in [Kind::Images, Kind::Annotations, Kind::Categories] {
                assert_eq!(a.records(kind).offsets, b.records(kind).offsets);
                assert_eq!(a.records(kind).id.to_vec(), b.records(kind).id.to_vec());
            }
        }
        (Err(a), Err(b)) => assert_eq!(a, b),
        _ => panic!("window sizes disagree: {small:?} vs {large:?}"),
    }
    let valid = parse_document(data).is_ok();
    match &large {
        Ok(s) => {
            assert!(valid, "scan accepted malformed JSON");
            for kind in [Kind::Images, Kind::Annotations, Kind::Categories] {
                let offsets = &s.records(kind).offsets;
                for off in (0..offsets.len()).filter_map(|r| offsets.get(r)) {
                    assert!(parse_value(&data[off as usize..]).is_ok());
                }
            }
        }
        Err(Error::Schema { .. }) => assert!(valid, "schema error on malformed JSON"),
        Err(Error::Parse { .. }) => assert!(!valid, "parse error on valid JSON"),
        Err(other) => panic!("unexpected error {other:?}"),
    }
});
