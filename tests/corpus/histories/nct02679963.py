"""NCT02679963: classic XML downloads by AACT (ctti-clinicaltrials/aact, MIT) on 2 dates.

| file | commit | download date | last update posted |
|---|---|---|---|
| NCT02679963__2017-01-18.xml | b235ad2b03776be4644582307e4b77356153987b | 2017-01-18 | (old tags) lastchanged 2016-06-08 |
| NCT02679963__2018-05-11.xml | db7f9efedcf1fc1ed3b4cc0f4918e747e7fc2f72 | 2018-05-11 | 2017-08-01 |

No results; both kept whole.

What differs, as read in the files (a new version, last update submitted July 31, 2017):

- enrollment 500 → 600 anticipated, +20 % (major);
- eligibility criteria amended, about 8 % of the words (below the 30 % rewrite share), so one
  minor event per item. In the section before "Non-inclusion criteria:": items 6, 11, 12 and
  the creatinine clearance bullet ("&gt; 50mL/min" → "&gt;/= 51mL/min") changed; "Chemonaive for
  NSCLC" replaced by a much longer item (under 60 % alike: removed + added); the note "Inclusion
  criteria 13 is only for patients registered before ..." and item 17 "Previous surgery ..."
  added. In "Non-inclusion criteria": items 6 and 7 changed; item 3 "Any previous treatment with
  a PARP inhibitor" replaced by "Any previous systemic treatment for cancer ... except for
  NSCLC" (removed + added). 12 minor events;
- brief summary: "Five hundred patients" → "Six hundred patients ... or during or at the end of
  the first 6 cycles ...", re-wrapped (info);
- masking "Double Blind (Subject, Caregiver, Investigator, Outcomes Assessor)" → "Quadruple
  (Participant, Care Provider, Investigator, Outcomes Assessor)": the same four roles in the
  vocabulary of 2017, no event (``legacy_xml.masking`` counts the roles of the old form);
- verification date, date tags, MeSH comment padding: not compared.
"""

from ..model import Capture, Pair, real_captures

AACT = "ctti-clinicaltrials/aact"
PATH = "spec/support/xml_data/NCT02679963.xml"

V1, V2 = "NCT02679963__2017-01-18.xml", "NCT02679963__2018-05-11.xml"

CAPTURES = (
    Capture(V1, AACT, PATH, "b235ad2b03776be4644582307e4b77356153987b", chars=15537, full_chars=15537),
    Capture(V2, AACT, PATH, "db7f9efedcf1fc1ed3b4cc0f4918e747e7fc2f72", chars=17729, full_chars=17729),
)
PAIRS = (
    Pair(
        "nct02679963-xml-2017-01-to-2018-05",
        "real",
        (V1, V2),
        "amendment while recruiting: enrollment 500 → 600, criteria widened item by item, summary"
        " edited; masking re-worded in the 2017 vocabulary",
        real_captures(V1, V2),
        (("enrollment", "major", 1), ("other", "info", 1)) + (("eligibility", "minor", 1),) * 12,
    ),
)
