// Package eval measures segmentation quality the way the published
// training-free methods do (SCLIP, NACLIP, ClearCLIP on MMSegmentation
// 1.x): dataset readers for the MMSeg layouts of the eight benchmarks and
// for a folder of your own, MMSeg's IoUMetric as a mergeable confusion
// matrix, and a resumable, shardable run state with its report.
//
// # Datasets
//
// [Open] lists a benchmark under its root (MMSeg's data_root):
//
//	voc21, voc20        JPEGImages/*.jpg, SegmentationClass/*.png, ImageSets/Segmentation/val.txt
//	context60, context59  JPEGImages/*.jpg, SegmentationClassContext/*.png, ImageSets/SegmentationContext/val.txt
//	coco_object         images/val2017/*.jpg, annotations/val2017/*_instanceTrainIds.png
//	coco_stuff164k      images/val2017/*.jpg, annotations/val2017/*_labelTrainIds.png
//	cityscapes          leftImg8bit/val/<city>/*_leftImg8bit.png, gtFine/val/<city>/*_gtFine_labelTrainIds.png
//	ade20k              images/validation/*.jpg, annotations/validation/*.png
//
// A split file gives the order of the listed sets; the others are listed
// recursively and sorted by path, as mmengine's list_dir_or_file and
// BaseSegDataset do. voc20, context59 and ade20k use reduce_zero_label
// (gt[gt==0]=255; gt=gt-1; gt[gt==254]=255); the others score their values
// as stored. 255 is never scored.
//
// Label PNGs are read as raw indices ([ReadLabel]): palette indices or
// grey values, never colours, as Pillow's 'unchanged' mode gives them.
//
// # EXIF orientation
//
// Images are decoded with imageio.Open and evaluated as stored: the EXIF
// orientation tag is not applied. This is a deliberate choice, and it is
// not what the reference loader does for JPEGs. mmcv's LoadImageFromFile
// (color_type 'color', imdecode_backend 'cv2') calls
// cv2.imdecode(buf, IMREAD_COLOR); since OpenCV 3.3 (opencv/opencv pull
// request 8492, fixing issue 8172) imdecode applies the JPEG EXIF
// orientation unless IMREAD_IGNORE_ORIENTATION is set, which is why mmcv
// has the 'color_ignore_orientation' flag. Label maps are PNGs read
// unrotated, and the annotations are drawn on the stored pixels, so a
// rotated image would not line up with its labels: under MMSeg a 90°
// orientation makes the prediction and the label differ in shape (an
// error) and a flip or 180° turn scores a mirrored prediction. The
// standard validation sets are not known to hold such images (the
// published runs complete); freeseg records any image whose tag is not 1
// in the report (State.Oriented) so that a difference from the reference
// cannot pass unnoticed.
//
// # Metric
//
// [Metric] accumulates a confusion matrix of int64 pixel counts over the
// whole dataset at the ground truth's resolution; [Metric.Scores] gives
// MMSeg's per-class IoU and Acc, mIoU and mAcc as nanmeans, and
// aAcc = ΣI/Σlabel. Metrics of disjoint image sets add up ([Metric.Merge]).
package eval
