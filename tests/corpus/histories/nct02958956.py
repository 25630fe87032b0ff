"""NCT02958956: classic XML downloads by AACT (ctti-clinicaltrials/aact, MIT) on 2 dates.

A completed observational cohort study (Takeda: pioglitazone and cancer incidence in the Kaiser
Permanente Northern California diabetes registry, 1997-2012), registered after the fact with
results.

| file | commit | download date | last update posted |
|---|---|---|---|
| NCT02958956__2017-08-08.xml | 798487be103b5267b897464e1d2293bf241e4ef6 | 2017-08-08 | (old tags) lastchanged 2016-11-12 |
| NCT02958956__2018-05-11.xml | 697adc0c46ec88b4dc2f22ed5fda4fc6270f6f8e | 2018-05-11 | 2018-03-07 |

Both hold posted results (173,351 and 179,291 characters); each is kept up to the
``<clinical_results>`` line (12,423 characters with LF line ends, 14,341 with CRLF). The source
index reports 5 versions of the file; no other was stored at the 20 commits probed.

What differs, as read in the files (a new version, last update submitted February 6, 2018):

- enrollment 252,467 → 236,507 actual, −6.3 % (minor, below the 10 % limit): the count now
  matches the 38,190 + 198,317 participants of the results' flow; the detailed description still
  says "approximately 252467";
- start "January 1997" (no type printed) → "January 1, 1997" Actual; primary completion and
  completion "May 2015" → "May 29, 2015", Actual in both: each the same period stated to the day,
  three info events. The start date's type printed in 2018 alone is no change (the rules: a type
  printed or omitted beside the same date); trialwatch rated the start minor until the diff
  stopped folding a one-sided type into a date that did not move;
- two links added, "Interim Results Report" and "10 yr Study Report" (Takeda PDF reports): one
  references event of 2, info (links are rated info in the catalog);
- with no event: ``<phase>N/A</phase>`` dropped (the registry stopped printing it for
  observational studies), verification date, old date tags replaced by the new ones with the
  results dates.
"""

from ..model import Capture, Pair, real_captures

AACT = "ctti-clinicaltrials/aact"
PATH = "spec/support/xml_data/NCT02958956.xml"

V1, V2 = "NCT02958956__2017-08-08.xml", "NCT02958956__2018-05-11.xml"

CAPTURES = (
    Capture(V1, AACT, PATH, "798487be103b5267b897464e1d2293bf241e4ef6", chars=12423, full_chars=173351),
    Capture(V2, AACT, PATH, "697adc0c46ec88b4dc2f22ed5fda4fc6270f6f8e", chars=14341, full_chars=179291),
)
PAIRS = (
    Pair(
        "nct02958956-xml-2017-08-to-2018-05",
        "real",
        (V1, V2),
        "completed study, sponsor update: enrollment corrected to the analysed count, dates stated to"
        " the day, two report links added; phase N/A dropped",
        real_captures(V1, V2),
        (("enrollment", "minor", 1), ("references", "info", 2)) + (("dates", "info", 1),) * 3,
    ),
)
