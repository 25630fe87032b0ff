"""NCT01207388: classic XML downloads by AACT (ctti-clinicaltrials/aact, MIT) on 4 dates.

| file | commit | download date | last update posted |
|---|---|---|---|
| NCT01207388__2016-08-16.xml | 5d049118d169c8dcf8f6e0a3b448401d081e94b6 | 2016-08-16 | (old tags) changed 2015-09-16 |
| NCT01207388__2017-01-18.xml | b235ad2b03776be4644582307e4b77356153987b | 2017-01-18 | (old tags) changed 2016-08-22 |
| NCT01207388__2017-10-20.xml | 140a133b6219d5036b7e703a003fc88d57b42d34 | 2017-10-20 | 2017-05-01 |
| NCT01207388__2018-05-11.xml | 4436854f6e0b5c368d0009a7d53414207d60bc73 | 2018-05-11 | 2017-05-01 |

All four hold posted results (77,438, 122,488, 120,257 and 123,369 characters); each is kept up
to the ``<clinical_results>`` line. The 2016 download is in the pre-2017 layout: ``<study_design>``
as one line, ``<safety_issue>`` in every outcome, gender "Both", CRLF line ends like the 2017-01
download.

What differs, pair by pair, as read in the files:

- 2016-08 → 2017-01: the sponsor updated the record (last changed 2015-09-16, then 2016-08-22) when
  it posted the results of a later data cut-off (05 August 2015 instead of 21 February 2014). In
  the detailed description "occurr" is corrected to "occur" (info). Of the nine secondary outcomes:
  "Hematological Relapse-free Survival Rate" is renamed "... Survival (RFS)" (91 % alike: info);
  the time frames of Overall Survival, 100-Day Mortality, Time to Hematological Relapse, Duration
  of Complete MRD Response and Number of Participants With Adverse Events are restated up to the
  new cut-off, and Resource Utilization goes from "2 years" to "5 years": one minor event of 6; five
  outcomes gain a description where they had none (RFS, Overall Survival, 100-Day Mortality, Time
  to Hematological Relapse, Duration of Complete MRD Response): one minor event of 5. "MRD Level"
  and "Quality of Life" are gone, the trial being active, not recruiting (one major event of 2),
  and "Change in MRD Level From Baseline to End of Cycle 1 in Non-MRD Responders", "Change From
  Baseline in EORTC-QLQ-C30 Scales" and "Change From Baseline in EuroQoL 5-Dimension (EQ-5D)
  Scales" are added (one minor event of 3): none is 60 % alike to a removed measure. No event:
  ``<safety_issue>`` lines dropped (not compared), the adverse-events description now breaks a
  line where it had a space, the one-line design is the same as the 2017 ``<study_design_info>``,
  gender "Both" → "All", ``is_fda_regulated`` and ``has_expanded_access`` moved or dropped, header
  and verification date.
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
        "NCT01207388__2016-08-16.xml", AACT, PATH, "5d049118d169c8dcf8f6e0a3b448401d081e94b6", 28774, 77438
    ),
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
        "nct01207388-xml-2016-08-to-2017-01",
        "real",
        ("NCT01207388__2016-08-16.xml", "NCT01207388__2017-01-18.xml"),
        "results of a later cut-off posted: secondary outcomes restated, two replaced by three, one"
        " renamed, descriptions added; a typo fixed in the description",
        real_captures("NCT01207388__2016-08-16.xml", "NCT01207388__2017-01-18.xml"),
        (
            ("other", "info", 1),
            ("outcomes", "info", 1),
            ("outcomes", "minor", 6),
            ("outcomes", "minor", 5),
            ("outcomes", "major", 2),
            ("outcomes", "minor", 3),
        ),
    ),
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
