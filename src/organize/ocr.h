/* ocr: reads the text inside an image with Tesseract (libtesseract, LSTM engine).
 *
 * Big images are scaled down first (to at most OCR_MAX_PIXELS) so one huge screenshot costs a
 * bounded time and never stalls the index queue; tiny ones are scaled up (Tesseract reads glyphs
 * of 20-40 px best). The text comes back with runs of whitespace folded to one space or newline
 * and without empty lines; an image without text gives "".
 *
 * Threading: one ocr handle per thread. */
#ifndef OCR_H
#define OCR_H

#include "../common/cs_err.h"
#include "../image/image.h"

#define OCR_MAX_PIXELS 3000000u
#define OCR_MIN_SIDE   300

typedef struct ocr ocr;

/* Opens Tesseract for lang ("eng", "eng+deu"; the traineddata files must be installed, e.g. the
 * tesseract-ocr-eng package). datapath NULL: Tesseract's default (or $TESSDATA_PREFIX). */
int ocr_open(const char *lang, const char *datapath, ocr **out, cs_err *err);
void ocr_close(ocr *o); /* NULL is a no-op */

/* Reads the text of im. *text is malloc'd (possibly ""). Words Tesseract is less than
 * min_conf percent sure of are dropped (0 keeps all). */
int ocr_read(ocr *o, const img_rgb *im, int min_conf, char **text, cs_err *err);

#endif
