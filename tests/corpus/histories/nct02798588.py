"""NCT02798588 (ETIC): classic XML downloads by AACT (ctti-clinicaltrials/aact, MIT) on 2 dates.

| file | commit | download date | last update posted |
|---|---|---|---|
| NCT02798588__2017-08-08.xml | 798487be103b5267b897464e1d2293bf241e4ef6 | 2017-08-08 | (old tags) changed 2016-12-23 |
| NCT02798588__2018-05-11.xml | 697adc0c46ec88b4dc2f22ed5fda4fc6270f6f8e | 2018-05-11 | 2018-03-23 |

No results; both kept whole (the 2017 file with LF line ends and no final newline, the 2018 one
with CRLF). The source index counts 5 versions of the file; these two could be read.

What differs, as read in the files (the sponsor's update of March 2018: the single-centre pilot
in Lyon opened, its investigator and contacts changed, its plan extended):

- status "Not yet recruiting" → "Recruiting": a forward step, minor; the one site (Bron) opens
  with it, its contacts changed at the same time, one minor site event;
- enrollment 20 → 27 anticipated, +35 % (major);
- completion and primary completion "June 2018" → "August 16, 2020", both anticipated: about 26
  months later, each major (≥ 365 days; primary completion also ≥ 90);
- start "February 2017" → "February 16, 2017", now typed "Actual": the same month stated to the
  day, info (the type printed with it does not raise it);
- design: masking "Double Blind (Care Provider, Investigator, Outcomes Assessor)" (three roles,
  "Triple" in the 2017 vocabulary) → "None (Open Label)": the masking (minor) and the masked roles
  (minor) change; primary purpose "Other" stated for the first time (minor);
- people: the principal investigator Frédéric Dailler is replaced by Florent Gobert (overall
  official removed and added, two minor events); of the two central contacts, Dailler is removed
  (minor) and Gobert's phone and email change (two minor events);
- no event: FDA-regulated drug and device "No" printed for the first time (the converter reads
  neither), site investigators (not compared), verification date, old date tags replaced.
"""

from ..model import Capture, Pair, real_captures

AACT = "ctti-clinicaltrials/aact"
PATH = "spec/support/xml_data/NCT02798588.xml"

V1, V2 = "NCT02798588__2017-08-08.xml", "NCT02798588__2018-05-11.xml"

CAPTURES = (
    Capture(V1, AACT, PATH, "798487be103b5267b897464e1d2293bf241e4ef6", chars=13449, full_chars=13449),
    Capture(V2, AACT, PATH, "697adc0c46ec88b4dc2f22ed5fda4fc6270f6f8e", chars=14641, full_chars=14641),
)
PAIRS = (
    Pair(
        "nct02798588-xml-2017-08-to-2018-05",
        "real",
        (V1, V2),
        "pilot opens: recruiting, enrollment 20 → 27, completion 26 months later, masking dropped,"
        " new principal investigator and contacts",
        real_captures(V1, V2),
        (
            ("status", "minor", 1),
            ("sites", "minor", 1),
            ("enrollment", "major", 1),
            ("dates", "major", 1),
            ("dates", "major", 1),
            ("dates", "info", 1),
            ("design", "minor", 1),
            ("design", "minor", 1),
            ("design", "minor", 1),
            ("contacts", "minor", 1),
            ("contacts", "minor", 1),
            ("contacts", "minor", 1),
            ("contacts", "minor", 1),
            ("contacts", "minor", 1),
        ),
    ),
)
