"""NCT03204344: classic XML downloads by AACT (ctti-clinicaltrials/aact, MIT) on 2 dates.

| file | commit | download date | last update posted |
|---|---|---|---|
| NCT03204344__2017-08-10.xml | 798487be103b5267b897464e1d2293bf241e4ef6 | 2017-08-10 | (old tags) changed 2017-06-28 |
| NCT03204344__2018-05-11.xml | 4436854f6e0b5c368d0009a7d53414207d60bc73 | 2018-05-11 | 2017-09-19 |

No results; both kept whole (the 2017 file with LF line ends and no final newline, the 2018 one
with CRLF). The source index counts 3 versions of the file; these two could be read.

What differs, as read in the files (the sponsor's update of September 2017, when the pilot in
Beijing started recruiting):

- status "Not yet recruiting" → "Recruiting": a forward step, minor; the one site gets its status
  and its two contacts at the same time, one minor site event;
- start "August 2017" anticipated → "August 1, 2017" actual: the same month stated to the day,
  but the type moves from one value to another (the start happened), minor;
- arms and interventions: the descriptions of both arms and of both interventions are edited
  ("at least 2 hours (6:00) before" → "at least 2 hours before"; the control arm and the routine
  fasting intervention now allow water until 6:00 and add electrolytes): four info events;
- eligibility: items 5 (pyloric or intestinal obstruction) and 6 (combined surgery) are added to
  the exclusions: two minor events, about 12 % of the words; item 4 now ends with ";" instead of
  "." because the list goes on, which is no event (``diff._drop_relisted``);
- no event: masking "Outcomes Assessor" (the roles-only form of 2017) → "Single (Outcomes
  Assessor)", the same; the 20 references, contacts and officials unchanged; MeSH terms, IPD
  sharing "Yes" → "Undecided" (not compared), verification date, old date tags replaced.
"""

from ..model import Capture, Pair, real_captures

AACT = "ctti-clinicaltrials/aact"
PATH = "spec/support/xml_data/NCT03204344.xml"

V1, V2 = "NCT03204344__2017-08-10.xml", "NCT03204344__2018-05-11.xml"

CAPTURES = (
    Capture(V1, AACT, PATH, "798487be103b5267b897464e1d2293bf241e4ef6", chars=19287, full_chars=19287),
    Capture(V2, AACT, PATH, "4436854f6e0b5c368d0009a7d53414207d60bc73", chars=21598, full_chars=21598),
)
PAIRS = (
    Pair(
        "nct03204344-xml-2017-08-to-2018-05",
        "real",
        (V1, V2),
        "recruitment opens: actual start, arm and intervention descriptions edited, two exclusions"
        " added; masking in the 2018 wording",
        real_captures(V1, V2),
        (
            ("status", "minor", 1),
            ("sites", "minor", 1),
            ("dates", "minor", 1),
            ("arms", "info", 1),
            ("arms", "info", 1),
            ("arms", "info", 1),
            ("arms", "info", 1),
            ("eligibility", "minor", 1),
            ("eligibility", "minor", 1),
        ),
    ),
)
