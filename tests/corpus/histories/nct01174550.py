"""NCT01174550 (PROMISE): classic XML downloads by AACT (ctti-clinicaltrials/aact, MIT) on 3 dates.

| file | commit | download date | last update posted |
|---|---|---|---|
| NCT01174550__2017-01-18.xml | b235ad2b03776be4644582307e4b77356153987b | 2017-01-18 | (old tags) lastchanged 2016-02-02 |
| NCT01174550__2017-10-20.xml | 140a133b6219d5036b7e703a003fc88d57b42d34 | 2017-10-20 | 2016-02-29 (submitted 2016-02-02) |
| NCT01174550__2018-05-11.xml | db7f9efedcf1fc1ed3b4cc0f4918e747e7fc2f72 | 2018-05-11 | 2016-02-29 (submitted 2016-02-02) |

A completed diagnostic-strategy trial (10,003 enrolled, one site) whose results were posted in
2016; all three files hold them (89,695, 88,923 and 90,975 characters) and each is kept up to the
``<clinical_results>`` line. The index names no other version of the file. The 2017-01 and 2018-05
downloads use CRLF line ends, the 2017-10 one LF.

All three are the same registry version (last changed February 2, 2016), so neither pair carries
an edit by the sponsor. What differs, as read in the files:

- 2017-01 → 2017-10: the brief summary, the detailed description and two criteria (the "women
  age ≥50 years" item and the CTA contraindication item) re-wrapped at other words; masking
  "Open Label" written "None (Open Label)"; the old date tags followed by the new date names
  (``last_update_posted`` February 29, 2016, stamped by the registry); the quotes in the IPD
  description no longer escaped as ``&quot;``; the MeSH comment padded. No event.
- 2017-10 → 2018-05: the old date tags dropped with the registry's notice, ``&quot;`` back in the
  IPD description, CRLF line ends. No event.
"""

from ..model import Capture, Pair, real_captures

AACT = "ctti-clinicaltrials/aact"
PATH = "spec/support/xml_data/NCT01174550.xml"

V1, V2, V3 = "NCT01174550__2017-01-18.xml", "NCT01174550__2017-10-20.xml", "NCT01174550__2018-05-11.xml"

CAPTURES = (
    Capture(V1, AACT, PATH, "b235ad2b03776be4644582307e4b77356153987b", chars=19190, full_chars=89695),
    Capture(V2, AACT, PATH, "140a133b6219d5036b7e703a003fc88d57b42d34", chars=19857, full_chars=88923),
    Capture(V3, AACT, PATH, "db7f9efedcf1fc1ed3b4cc0f4918e747e7fc2f72", chars=20470, full_chars=90975),
)
PAIRS = (
    Pair(
        "nct01174550-xml-2017-01-to-2017-10",
        "real",
        (V1, V2),
        "same version (last changed 2016-02-02), results posted; texts re-wrapped, masking in the 2017"
        " vocabulary, new date names",
        real_captures(V1, V2),
        (),
    ),
    Pair(
        "nct01174550-xml-2017-10-to-2018-05",
        "real",
        (V2, V3),
        "same version, results posted; old date tags dropped, quotes re-escaped",
        real_captures(V2, V3),
        (),
    ),
)
