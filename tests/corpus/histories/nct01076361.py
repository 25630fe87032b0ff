"""NCT01076361: classic XML downloads by AACT (ctti-clinicaltrials/aact, MIT) on 2 dates.

| file | commit | download date | last update posted |
|---|---|---|---|
| NCT01076361__2017-10-20.xml | 140a133b6219d5036b7e703a003fc88d57b42d34 | 2017-10-20 | 2015-01-23 (estimate) |
| NCT01076361__2018-05-11.xml | fed61152fa37dc9f022619150bfe76da4b271fad | 2018-05-11 | 2014-10-27 (estimate) |

The index lists one commit for the path (fed61152); the file is also stored at 140a133b and at no
other commit probed (b235ad2b, 5d049118). Both hold posted results (40,532 and 42,206
characters); each is kept up to the ``<clinical_results>`` line. The 2017 file has LF line ends,
the 2018 file CRLF.

The record: Medtronic's post-approval registry of the Model 4968 CapSure Epi pacing lead,
completed (September 2010, actual), 370 patients, 106 sites of which only the first is named.

What differs, as read in the files: the same registry version (last update submitted October 24,
2014 in both). The 2018 download drops ``<phase>N/A</phase>`` (an observational study; no event,
``phases: ["NA"]`` is the no-phase default), ``<number_of_groups>`` (not compared) and the old date
tags, and prints the last update posted as October 27, 2014 where the 2017 download said January
23, 2015, both "Estimate" (a registry date, not compared). No event.
"""

from ..model import Capture, Pair, real_captures

AACT = "ctti-clinicaltrials/aact"
PATH = "spec/support/xml_data/NCT01076361.xml"

V1, V2 = "NCT01076361__2017-10-20.xml", "NCT01076361__2018-05-11.xml"

CAPTURES = (
    Capture(V1, AACT, PATH, "140a133b6219d5036b7e703a003fc88d57b42d34", chars=26837, full_chars=40532),
    Capture(V2, AACT, PATH, "fed61152fa37dc9f022619150bfe76da4b271fad", chars=28168, full_chars=42206),
)
PAIRS = (
    Pair(
        "nct01076361-xml-2017-10-to-2018-05",
        "real",
        (V1, V2),
        "same version (last update submitted 2014-10-24), results posted; phase N/A, number of groups"
        " and old date tags dropped, last-update date re-stamped",
        real_captures(V1, V2),
        (),
    ),
)
