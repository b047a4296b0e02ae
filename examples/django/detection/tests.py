"""The example app through Django's test client, against the real library and model.

Files: `YOLO_MODEL` (default: the demo model that `make fixtures` fetched), `YOLO_FFI_TEST_IMAGES`
(default: the images folder beside it) and `YOLO_FFI_TEST_MODELS` (the synthetic task models that
`make test-models` writes, default `build/test-models` of the checkout).
"""

from __future__ import annotations

import os
from pathlib import Path
from unittest import mock

import yolo_ffi
from django.apps import apps
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import SimpleTestCase, override_settings

from . import service

IMAGES = Path(os.environ.get("YOLO_FFI_TEST_IMAGES") or Path(settings.YOLO_MODEL).parent.parent / "images")
TASK_MODELS = Path(os.environ.get("YOLO_FFI_TEST_MODELS") or Path(__file__).resolve().parents[3] / "build" / "test-models")


def upload(path: Path) -> SimpleUploadedFile:
    return SimpleUploadedFile(path.name, path.read_bytes(), content_type="image/jpeg")


class ReadyAppTests(SimpleTestCase):
    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        assert service.current() is not None, "ready() must have started the detector"
        assert service.current().wait_ready(120), "the model did not load"
        cls.bus = IMAGES / "bus.jpg"

    def test_ready_twice_loads_once(self) -> None:
        before = service.current()
        apps.get_app_config("detection").ready()
        apps.get_app_config("detection").ready()
        self.assertIs(service.current(), before)
        self.assertEqual(before.stats().state, yolo_ffi.LoadState.READY)

    def test_healthz_is_200_when_ready(self) -> None:
        response = self.client.get("/healthz")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json()["status"], "ready")
        self.assertGreater(response.json()["classes"], 0)

    def test_detect_returns_the_librarys_detections(self) -> None:
        with yolo_ffi.Detector(settings.YOLO_MODEL, pool_size=1, conf=0.05) as direct:
            expected = [d.to_dict() for d in direct.detect(self.bus)]
        self.assertTrue(expected, "the test image must give detections at conf 0.05")
        response = self.client.post("/detect", {"image": upload(self.bus), "conf": "0.05"})
        self.assertEqual(response.status_code, 200, response.content)
        self.assertEqual(response.json()["detections"], expected)
        self.assertEqual(response.json()["model"], Path(settings.YOLO_MODEL).name, "the name, not the server's path")
        self.assertEqual(response["X-Worker-Pid"], str(os.getpid()))
        fewer = self.client.post("/detect?max_det=1", {"image": upload(self.bus), "conf": "0.05"})
        self.assertEqual(fewer.json()["detections"], expected[:1])

    def test_bad_uploads_get_400_with_the_librarys_message(self) -> None:
        garbage = b"this is not an image"
        with self.assertRaises(yolo_ffi.ImageDecodeError) as caught:
            service.current().detect(garbage)
        response = self.client.post("/detect", {"image": SimpleUploadedFile("x.jpg", garbage)})
        self.assertEqual(response.status_code, 400)
        self.assertEqual(response.json()["error"], caught.exception.message)
        self.assertEqual(self.client.post("/detect", {}).status_code, 400)
        self.assertIn("image", self.client.post("/detect", {}).json()["error"])
        bad_conf = self.client.post("/detect", {"image": upload(self.bus), "conf": "high"})
        self.assertEqual(bad_conf.status_code, 400)
        out_of_range = self.client.post("/detect", {"image": upload(self.bus), "conf": "7"})
        self.assertEqual(out_of_range.status_code, 400)
        self.assertIn("conf", out_of_range.json()["error"])
        self.assertEqual(self.client.get("/detect").status_code, 405)

    @override_settings(YOLO_MAX_UPLOAD_BYTES=1000)
    def test_large_uploads_get_413(self) -> None:
        self.assertEqual(self.client.post("/detect", {"image": upload(self.bus)}).status_code, 413)


class DegradedModeTests(SimpleTestCase):
    """A model that cannot load leaves the app up: health says why, detect says 503, the rest works."""

    def tearDown(self) -> None:
        service.start()  # back to the configured model for the other tests
        service.current().wait_ready(120)

    def test_missing_model(self) -> None:
        missing = str(Path(settings.YOLO_MODEL).with_name("missing-model.onnx"))
        with override_settings(YOLO_MODEL=missing, YOLO_RETRY_SECONDS=3600):
            apps.get_app_config("detection").ready()
            with self.assertRaises(yolo_ffi.LoadFailedError):
                service.current().wait_ready(60)
            health = self.client.get("/healthz")
            self.assertEqual(health.status_code, 503)
            self.assertEqual(health.json()["status"], "failed")
            self.assertIn("missing-model.onnx", health.json()["error"])
            detect = self.client.post("/detect", {"image": upload(IMAGES / "bus.jpg")})
            self.assertEqual(detect.status_code, 503)
            self.assertIn("missing-model.onnx", detect.json()["error"])
            folder = str(Path(missing).parent)
            self.assertNotIn(folder, health.content.decode(), "responses do not show where the model lies")
            self.assertNotIn(folder, detect.content.decode())
            self.assertEqual(self.client.get("/").status_code, 200)

    def test_a_failed_load_is_retried_after_the_interval(self) -> None:
        good = settings.YOLO_MODEL
        with override_settings(YOLO_MODEL=good + ".absent", YOLO_RETRY_SECONDS=0):
            service.start()
            with self.assertRaises(yolo_ffi.LoadFailedError):
                service.current().wait_ready(60)
        with override_settings(YOLO_RETRY_SECONDS=0):
            # The model is back: the next request retries, and the load succeeds.
            self.assertIn(self.client.get("/healthz").status_code, (200, 503))
            self.assertTrue(service.current().wait_ready(120))
            self.assertEqual(self.client.get("/healthz").status_code, 200)

    def test_loading_state_is_503(self) -> None:
        loading = mock.Mock(spec=yolo_ffi.Detector, state=yolo_ffi.LoadState.LOADING, model_path="m.onnx")
        loading.detect.side_effect = yolo_ffi.NotReadyError("the model is still loading", 11)
        with mock.patch.object(service, "_detector", loading):
            health = self.client.get("/healthz")
            self.assertEqual((health.status_code, health.json()["status"]), (503, "loading"))
            detect = self.client.post("/detect", {"image": upload(IMAGES / "bus.jpg")})
            self.assertEqual((detect.status_code, detect["Retry-After"]), (503, "1"))


class TaskModelTests(SimpleTestCase):
    """The same endpoint serves a segmentation or a classification model, with what each task gives."""

    def tearDown(self) -> None:
        service.start()  # back to the configured model for the other tests
        service.current().wait_ready(120)

    def post_with(self, model: str) -> dict:
        with override_settings(YOLO_MODEL=str(TASK_MODELS / model)):
            service.start()
            self.assertTrue(service.current().wait_ready(60))
            response = self.client.post("/detect", {"image": upload(IMAGES / "bus.jpg")})
        self.assertEqual(response.status_code, 200, response.content)
        return response.json()

    def test_segmentation_returns_masks_as_cropped_run_lengths(self) -> None:
        body = self.post_with("seg_fixed.onnx")
        self.assertEqual(body["task"], "segment")
        masks = [d["mask"] for d in body["detections"]]
        self.assertEqual(len(masks), 2)
        for mask in masks:
            self.assertEqual(sum(mask["counts"]), mask["width"] * mask["height"])

    def test_semantic_segmentation_returns_the_class_map_as_runs(self) -> None:
        body = self.post_with("semantic_ids.onnx")
        self.assertEqual(body["task"], "semantic")
        class_map = body["class_map"]
        self.assertEqual((class_map["width"], class_map["height"]), (810, 1080))
        self.assertEqual([c["class_id"] for c in class_map["classes"]], [0, 1])
        for c in class_map["classes"]:
            self.assertEqual(sum(length for _, length in c["runs"]), c["pixels"])
        self.assertEqual(sum(c["pixels"] for c in class_map["classes"]), 810 * 1080)
        self.assertNotIn("detections", body)

    def test_depth_returns_the_range_of_the_map(self) -> None:
        body = self.post_with("depth_ramp.onnx")
        self.assertEqual(body["task"], "depth")
        depth = body["depth_map"]
        self.assertEqual((depth["width"], depth["height"]), (810, 1080))
        # The model's columns hold 0..7, stretched across the image.
        self.assertAlmostEqual(depth["min"], 0.0, places=5)
        self.assertAlmostEqual(depth["max"], 7.0, places=5)

    def test_classification_returns_the_top_classes(self) -> None:
        body = self.post_with("classify_task.onnx")
        self.assertEqual(body["task"], "classify")
        self.assertEqual([c["class_id"] for c in body["classes"]], [1, 2, 0])
        self.assertNotIn("detections", body)


class ReloadAndMetricsTests(SimpleTestCase):
    """POST /admin/reload with its token, and /metrics parsed with prometheus_client's parser."""

    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        assert service.current().wait_ready(120), "the model did not load"

    def tearDown(self) -> None:
        service.reload()  # back to the configured model for the other tests

    def reload(self, token: str = "secret", **fields: str):
        return self.client.post("/admin/reload", fields, HTTP_AUTHORIZATION=f"Bearer {token}")

    def test_reload_needs_the_token_and_is_off_without_one(self) -> None:
        before = service.current().reload_stats()
        with override_settings(YOLO_ADMIN_TOKEN=""):
            self.assertEqual(self.reload().status_code, 403)
        with override_settings(YOLO_ADMIN_TOKEN="secret"):
            refused = self.reload(token="guess")
            self.assertEqual((refused.status_code, refused["WWW-Authenticate"]), (401, "Bearer"))
            self.assertEqual(self.client.post("/admin/reload").status_code, 401)
            self.assertEqual(self.client.get("/admin/reload").status_code, 405)
        self.assertEqual(service.current().reload_stats(), before, "nothing was reloaded")

    @override_settings(YOLO_ADMIN_TOKEN="secret", YOLO_MODELS_DIR=str(TASK_MODELS))
    def test_reload_swaps_the_model_and_a_failure_keeps_it(self) -> None:
        counted = service.current().reload_stats()
        before = self.client.post("/detect", {"image": upload(IMAGES / "bus.jpg")}).json()
        swapped = self.reload(model="seg_fixed.onnx")
        self.assertEqual(swapped.status_code, 200, swapped.content)
        self.assertEqual((swapped.json()["model"], swapped.json()["task"]), ("seg_fixed.onnx", "segment"))
        after = self.client.post("/detect", {"image": upload(IMAGES / "bus.jpg")}).json()
        self.assertEqual((after["model"], after["task"]), ("seg_fixed.onnx", "segment"))
        self.assertNotEqual(after["detections"], before["detections"])
        missing = self.reload(model="missing.onnx")
        self.assertEqual(missing.status_code, 422)
        self.assertIn("keeps serving", missing.json()["error"])
        self.assertNotIn(str(TASK_MODELS), missing.content.decode(), "responses do not show where models lie")
        self.assertEqual(self.reload(model="../seg_fixed.onnx").status_code, 400)
        health = self.client.get("/healthz").json()
        expected = {"ok": counted.reloads + 1, "failed": counted.failures + 1, "running": False}
        self.assertEqual((health["model"], health["reloads"]), ("seg_fixed.onnx", expected))
        self.assertEqual((health["provider"], health["provider_fallback"]), ("cpu", False))

    def test_metrics_follow_the_calls(self) -> None:
        from prometheus_client.parser import text_string_to_metric_families

        def scrape() -> dict:
            response = self.client.get("/metrics")
            self.assertEqual(response.status_code, 200)
            return {
                (sample.name, tuple(sorted(sample.labels.items()))): sample.value
                for family in text_string_to_metric_families(response.content.decode())
                for sample in family.samples
            }

        default = (("detector", "default"),)
        before = scrape()
        for _ in range(2):
            self.client.post("/detect", {"image": upload(IMAGES / "bus.jpg")})
        self.client.post("/detect", {"image": SimpleUploadedFile("x.jpg", b"not an image")})
        after = scrape()
        calls = ("yolo_ffi_detect_calls_total", default)
        self.assertEqual(after[calls] - before[calls], 2)
        failed = ("yolo_ffi_errors_total", (("detector", "default"), ("status", "IMAGE_DECODE_FAILED")))
        self.assertEqual(after[failed] - before.get(failed, 0), 1)
        decode = ("yolo_ffi_stage_seconds_count", (("detector", "default"), ("stage", "decode")))
        self.assertEqual(after[decode] - before[decode], 2)
        info = [dict(key[1]) for key in after if key[0] == "yolo_ffi_model_info"]
        self.assertEqual([i["model"] for i in info], [Path(settings.YOLO_MODEL).name])
        self.assertEqual(info[0]["sha256"], service.current().sha256)
