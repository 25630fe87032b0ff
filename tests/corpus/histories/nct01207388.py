"""NCT01207388: classic XML downloads by AACT (ctti-clinicaltrials/aact, MIT) on 3 dates.

| file | commit | download date | last update posted |
|---|---|---|---|
| NCT01207388__2017-01-18.xml | b235ad2b03776be4644582307e4b77356153987b | 2017-01-18 | (old tags) changed 2016-08-22 |
| NCT01207388__2017-10-20.xml | 140a133b6219d5036b7e703a003fc88d57b42d34 | 2017-10-20 | 2017-05-01 |
| NCT01207388__2018-05-11.xml | 4436854f6e0b5c368d0009a7d53414207d60bc73 | 2018-05-11 | 2017-05-01 |

All three hold posted results (122,488, 120,257 and 123,369 characters); each is kept up to the
``<clinical_results>`` line. A fourth version in the index (download 2016-08-16, commit
5d049118d169c8dcf8f6e0a3b448401d081e94b6, 77,438 characters, still in the pre-2017 layout with
``<study_design>`` as one line and gender "Both") is not kept here.

What differs, pair by pair, as read in the files:

- 2017-01 → 2017-10: the sponsor updated the record (last changed 2016-08-22, then last update
  submitted 2017-03-30). The time frames of the two quality-of-life secondary outcomes (EORTC
  QLQ-C30 and EQ-5D scales) change from "Baseline and the end of each treatment cycle (Day 29 of
  each cycle) and 30 days after last treatment (end of core study)" to "Subjects are assessed at
  Screening Visit (Baseline), at day 29 of each treatment cycle, at Day 30 Safety Follow-Up Visit
  and during mandated Efficacy Follow-Up Visits occurring at month 3, 6, 9, 12, 18 and 24 after
  treatment start.": the same edit at two secondary outcomes, one minor event of 2. Also, with no
  event: the nine ``<authority>`` lines are gone (the registry retired the field), masking "Open
  Label" is written "None (Open Label)", the detailed description is re-wrapped, quotes are no
  longer escaped as ``&quot;``, the MeSH comments are padded, the date tags gain the new names.
- 2017-10 → 2018-05: the same registry version (last update posted 2017-05-01); quotes escaped as
  ``&quot;`` again in a description and three site names, old date tags dropped, CRLF line ends.
  No event.
"""

from ..model import Capture, Pair, real_captures

AACT = "ctti-clinicaltrials/aact"
PATH = "spec/support/xml_data/NCT01207388.xml"

CAPTURES = (
    Capture(
        "NCT01207388__2017-01-18.xml", AACT, PATH, "b235ad2b03776be4644582307e4b77356153987b", 33781, 122488
    ),
    Capture(
        "NCT01207388__2017-10-20.xml", AACT, PATH, "140a133b6219d5036b7e703a003fc88d57b42d34", 33237, 120257
    ),
    Capture(
        "NCT01207388__2018-05-11.xml", AACT, PATH, "4436854f6e0b5c368d0009a7d53414207d60bc73", 34512, 123369
    ),
)
PAIRS = (
    Pair(
        "nct01207388-xml-2017-01-to-2017-10",
        "real",
        ("NCT01207388__2017-01-18.xml", "NCT01207388__2017-10-20.xml"),
        "sponsor update: time frames of the two quality-of-life secondary outcomes rewritten",
        real_captures("NCT01207388__2017-01-18.xml", "NCT01207388__2017-10-20.xml"),
        (("outcomes", "minor", 2),),
    ),
    Pair(
        "nct01207388-xml-2017-10-to-2018-05",
        "real",
        ("NCT01207388__2017-10-20.xml", "NCT01207388__2018-05-11.xml"),
        "same version (last update 2017-05-01), results posted; quotes re-escaped, old date tags dropped",
        real_captures("NCT01207388__2017-10-20.xml", "NCT01207388__2018-05-11.xml"),
        (),
    ),
)
