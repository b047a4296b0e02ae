// Compiled by `tsc --noEmit` in `make test-node` when TypeScript is installed: the declarations describe
// the API as the tests use it.
import { ClassMap, ClassProbability, DepthMap, Detector, Detection, YoloError, setLogCallback, version } from '..';

async function main(): Promise<void> {
  const detector: Detector = await Detector.load('model.onnx', { imgsz: [320, 320], conf: 0.3, providers: ['cpu'], maxBatch: 4 });
  const found: Detection[] = await detector.detect('bus.jpg', { maxDet: 10 });
  const first: number = found[0].box[0] + found[0].score + detector.stats().latencyP99Us;
  const extra: number = (found[0].mask?.data.length ?? 0) + (found[0].keypoints?.[0][2] ?? 0) + (found[0].obb?.angle ?? 0);
  const classes: ClassProbability[] = await detector.classify('bus.jpg', { topK: 3 });
  const map: ClassMap = await detector.semantic('bus.jpg');
  const depth: DepthMap = await detector.depth('bus.jpg');
  console.log(map.ids[0] + map.counts[0] + map.width, depth.data[0] + depth.height);
  console.log(extra, classes[0]?.probability, detector.provider, detector.batchStats().runs, detector.keypointShape[0]);
  setLogCallback((level: number, message: string) => console.log(level, message, first, version()));
  try {
    await detector.detect(new Uint8Array(4));
  } catch (error) {
    if (error instanceof YoloError) console.log(error.status, error.statusName);
  }
  await detector.close();
}
void main();
