"""cocors.COCO beyond plain parity: errors with locations, changed files, gzip, pickling, fork
and thread sharing, duplicate ids, the per-image data-loader calls, install_as_pycocotools."""

import contextlib
import gzip
import io
import json
import os
import pickle
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from pycocotools.coco import COCO as PyCOCO

import cocors
from cocors import COCO

GT = Path(__file__).parent / "data" / "instances_val2014_100.json"


def quiet(fn, *args):
    with contextlib.redirect_stdout(io.StringIO()):
        return fn(*args)


def write(tmp_path: Path, text: str, name: str = "doc.json") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_parse_error_names_file_offset_line_column(tmp_path):
    p = write(tmp_path, '{"images": [\n  {"id": 1,}\n]}')
    with pytest.raises(cocors.ParseError) as e:
        quiet(COCO, p)
    msg = str(e.value)
    assert msg.startswith(f"{p}:2:12: invalid JSON at byte 24") and "key" in msg
    assert isinstance(e.value, ValueError)
    # pycocotools' json.load fails on the same text.
    with pytest.raises(json.JSONDecodeError):
        quiet(PyCOCO, str(p))


@pytest.mark.parametrize(
    "doc, record, field",
    [
        ('{"annotations": [{"id": "1", "image_id": 1}]}', "annotations[0]", "id"),
        ('{"annotations": [{"id": 1, "image_id": 1, "bbox": [1, 2, 3]}]}', "annotations[0] (id 1)", "bbox"),
        ('{"annotations": [{"id": 7}]}', "annotations[0] (id 7)", "image_id"),
        ('{"images": [{"id": 1, "height": 2.5}]}', "images[0] (id 1)", "height"),
        ('{"annotations": [{"id": 1, "image_id": 1}], "categories": []}', "annotations[0] (id 1)", "category_id"),
        ('{"annotations": [{"id": 1, "image_id": 1, "iscrowd": 2}]}', "annotations[0] (id 1)", "iscrowd"),
        ('{"images": {"id": 1}}', "'images'", ""),
        ("[]", "the document", ""),
    ],
)
def test_schema_errors_name_record_and_field(tmp_path, doc, record, field):
    p = write(tmp_path, doc)
    with pytest.raises(cocors.SchemaError) as e:
        quiet(COCO, p)
    msg = str(e.value)
    assert str(p) in msg and record in msg and (not field or f"field '{field}'" in msg), msg


def test_missing_file_and_bad_gzip(tmp_path):
    with pytest.raises(FileNotFoundError):
        quiet(COCO, tmp_path / "nope.json")
    bad = tmp_path / "bad.json.gz"
    bad.write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(cocors.FileError) as e:
        quiet(COCO, bad)
    assert isinstance(e.value, OSError) and "gzip" in str(e.value)


def test_gzip_same_as_plain(tmp_path):
    gz = tmp_path / "gt.json.gz"
    gz.write_bytes(gzip.compress(GT.read_bytes()))
    a, b = quiet(COCO, gz), quiet(COCO, GT)
    assert a.anns == b.anns and list(a.imgToAnns) == list(b.imgToAnns)


def test_file_rewritten_after_indexing_is_a_clear_error(tmp_path):
    p = tmp_path / "gt.json"
    p.write_bytes(GT.read_bytes())
    c = quiet(COCO, p)
    first = c.getAnnIds()[0]
    assert c.loadAnns(first)[0]["id"] == first
    p.write_bytes(GT.read_bytes()[: 1000])  # truncated in place
    with pytest.raises(cocors.FileChangedError, match="changed after it was indexed"):
        c.loadAnns(first)


def test_duplicate_ids_warn_and_last_wins(tmp_path):
    doc = {"images": [{"id": 1, "v": "a"}, {"id": 2}, {"id": 1, "v": "b"}],
           "annotations": [{"id": 5, "image_id": 1, "category_id": 1},
                           {"id": 5, "image_id": 2, "category_id": 1}],
           "categories": [{"id": 1}]}
    p = write(tmp_path, json.dumps(doc))
    with pytest.warns(UserWarning, match="more than once"):
        c = quiet(COCO, p)
    ref = quiet(PyCOCO, str(p))
    assert list(c.imgs.keys()) == list(ref.imgs.keys()) == [1, 2]
    assert c.imgs[1] == ref.imgs[1] == {"id": 1, "v": "b"}
    assert c.anns == ref.anns and c.getAnnIds() == ref.getAnnIds() == [5, 5]
    assert dict(c.imgToAnns) == dict(ref.imgToAnns)


def test_pickle_reopens_the_path_and_dict_mode_pickles_data():
    c = quiet(COCO, GT)
    blob = pickle.dumps(c)
    assert len(blob) < 1000  # the path, not the data
    c2 = quiet(pickle.loads, blob)
    assert c2.anns == c.anns and c2.getImgIds() == c.getImgIds()
    d = quiet(COCO, json.loads(GT.read_text()))
    d2 = pickle.loads(pickle.dumps(d))
    assert d2.anns == d.anns


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_worker_reads_the_shared_index():
    c = quiet(COCO, GT)
    ids = c.getAnnIds(imgIds=[139])
    want = json.dumps(c.loadAnns(ids), sort_keys=True)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the DataLoader worker
        try:
            got = json.dumps(c.loadAnns(c.getAnnIds(imgIds=[139])), sort_keys=True)
            masks = c.image_masks(139)
            os.write(w, b"ok" if got == want and masks.shape[2] == len(ids) else b"bad")
        finally:
            os._exit(0)
    os.close(w)
    os.waitpid(pid, 0)
    assert os.read(r, 10) == b"ok"


def test_threads_share_one_index():
    c = quiet(COCO, GT)
    ref = quiet(PyCOCO, str(GT))
    imgs = ref.getImgIds()
    errors = []

    def work(k):
        try:
            for img in imgs[k::4]:
                assert c.loadAnns(c.getAnnIds(imgIds=img)) == ref.loadAnns(ref.getAnnIds(imgIds=img))
                t = c.image_targets(img)
                assert t["ann_ids"].tolist() == ref.getAnnIds(imgIds=img)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_image_targets_and_masks_match_pycocotools():
    c = quiet(COCO, GT)
    ref = quiet(PyCOCO, str(GT))
    for img in ref.getImgIds():
        anns = ref.imgToAnns[img]
        t = c.image_targets(img)
        assert t["ann_ids"].dtype == np.int64 and t["boxes"].shape == (len(anns), 4)
        assert t["ann_ids"].tolist() == [a["id"] for a in anns]
        assert t["boxes"].tolist() == [a["bbox"] for a in anns]
        assert t["category_ids"].tolist() == [a["category_id"] for a in anns]
        assert t["iscrowd"].tolist() == [a["iscrowd"] for a in anns]
        assert t["areas"].tolist() == [a["area"] for a in anns]
        m = c.image_masks(img)
        info = ref.imgs[img]
        assert m.dtype == np.uint8 and m.flags.f_contiguous
        assert m.shape == (info["height"], info["width"], len(anns))
        for k, a in enumerate(anns):
            assert np.array_equal(m[:, :, k], ref.annToMask(a))
        for got, a in zip(c.image_masks(img, decode=False), anns):
            want = ref.annToRLE(a)
            assert got["size"] == list(want["size"]) and got["counts"] == want["counts"]
    # The dict-backed object gives the same.
    d = quiet(COCO, json.loads(GT.read_text()))
    img = ref.getImgIds()[0]
    assert np.array_equal(d.image_masks(img), c.image_masks(img))
    assert all(np.array_equal(d.image_targets(img)[k], v) for k, v in c.image_targets(img).items())


def test_install_as_pycocotools_runs_cocoeval_unchanged():
    """Third-party code importing pycocotools gets cocors' COCO and mask; the real cocoeval
    runs on them and gives pycocotools' own stats."""
    code = f"""
import contextlib, io, json
import cocors
cocors.install_as_pycocotools()
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
import pycocotools.mask as m
assert COCO is cocors.COCO and m is cocors.mask
with contextlib.redirect_stdout(io.StringIO()):
    gt = COCO({str(GT)!r})
    dt = gt.loadRes({str(GT.parent / 'instances_val2014_fakebbox100_results.json')!r})
    E = COCOeval(gt, dt, 'bbox'); E.evaluate(); E.accumulate(); E.summarize()
print(json.dumps(E.stats.tolist()))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    stats = json.loads(out.stdout.strip().splitlines()[-1])
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        gt = PyCOCO(str(GT))
        dt = gt.loadRes(str(GT.parent / "instances_val2014_fakebbox100_results.json"))
        E = COCOeval(gt, dt, "bbox")
        E.evaluate()
        E.accumulate()
        E.summarize()
    assert stats == E.stats.tolist()


def test_empty_and_assigned_dataset_patterns():
    c = COCO()
    assert c.dataset == {} and c.anns == {} and dict(c.imgToAnns) == {} and c.cats == {}
    c.dataset = json.loads(GT.read_text())
    quiet(c.createIndex)
    ref = quiet(PyCOCO, str(GT))
    assert c.anns == ref.anns and c.getImgIds(catIds=[1]) == ref.getImgIds(catIds=[1])
    # A file-backed object can be re-pointed at a dict, as torchvision code does.
    f = quiet(COCO, GT)
    f.dataset = {"images": [{"id": 1}], "annotations": [], "categories": []}
    quiet(f.createIndex)
    assert list(f.imgs) == [1] and f.anns == {}


def test_loadres_empty_gives_no_detections():
    c = quiet(COCO, GT)
    res = quiet(c.loadRes, [])
    assert res.anns == {} and len(res.dataset["images"]) == 100 and res.getAnnIds() == []
