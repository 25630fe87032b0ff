"""NCT01341288: classic XML downloads by AACT (ctti-clinicaltrials/aact, MIT) on 2 dates.

| file | commit | download date | last update posted |
|---|---|---|---|
| NCT01341288__2016-08-16.xml | 6d94954ac000fadd38a0a80aaa56bec209152221 | 2016-08-16 | (old tags) lastchanged 2016-02-10 |
| NCT01341288__2017-08-08.xml | 9a3c3ea37fb5d93060f45959e0ff7b54709d4795 | 2017-08-08 | (old tags) lastchanged 2017-04-10 |

No results; both kept whole. The 2016 download has CRLF line ends, the 2017 one LF, as stored.
The index reports 3 versions of the file; the third is at none of the 20 commits that hold
versions of AACT's other fixtures.

What differs, as read in the files: in August 2016 the record was the registry's placeholder for
a trial of a device not yet approved or cleared by the FDA: titles "[Trial of device that is not
approved or cleared by the U.S. FDA]", sponsor "[Redacted]", status "Withheld", start July 2008,
phase, study type and design "N/A", the org study ID and two secondary IDs, nothing else. In
August 2017 the full record is public (last changed April 10, 2017): Thomas Jefferson
University's phase 1 EUCLIDIAN study of robot-assisted seed implantation for prostate
brachytherapy, terminated for slow accrual after 2 participants, started July 29, 2008,
primary completion February 26, 2015 and completion February 27, 2015 (all actual), 1 primary and
3 secondary outcomes, one arm and one device, 22 criteria (10 inclusion, 12 exclusion), one site
in Philadelphia, NCI as collaborator, one reference and two links.

Read by the rules (the later version terminated, so the trial has ended):

- status Withheld → Terminated (critical; "why stopped: Slow accrual" is part of that event);
- primary outcome added once the trial ended (critical; a disclosure, not a switch, but the
  rule reads the same); 3 secondary outcomes added (one minor event of 3: adding is minor);
- arm and device added after enrolment (major each: two lists, one item each);
- phase 1 stated (major), study type N/A → Interventional (major), enrollment 2 actual where
  none was stated (major);
- criteria from none to 22 items (rewrite, major, 22 members);
- start July 2008 → July 29, 2008 actual: the same month stated to the day, its type printed
  where none was (info: a type that does not move from one value to another does not raise it);
  primary completion and completion stated (minor each);
- conditions added (minor); the study design, absent from the placeholder, stated whole:
  intervention model, primary purpose and masking "No masking" (one minor event of 3); keywords
  and DMC (info each);
- the eligibility module stated whole: sex, minimum age 40 years, healthy volunteers (one minor
  event of 3);
- site and its country added (minor each); overall official added (minor); lead sponsor named
  and NCI added as collaborator (minor each); reference added (minor); two links (one info
  event of 2);
- both titles (minor each); acronym (info); summary and description, the description module
  stated whole (one info event of 2).

28 events. Read field by field, as trialwatch first did, the design, eligibility and description
fields were 8 events and the pair 33, over the 30 of one screen: the fields of an object the
placeholder did not have at all now aggregate per severity.

Not compared: the dropped ``<authority>`` line and ``is_fda_regulated``/``is_section_801`` flags,
the new FDA-regulation flags, responsible party, verification date and MeSH terms.
"""

from ..model import Capture, Pair, real_captures

AACT = "ctti-clinicaltrials/aact"
PATH = "spec/support/xml_data/NCT01341288.xml"

V1, V2 = "NCT01341288__2016-08-16.xml", "NCT01341288__2017-08-08.xml"

CAPTURES = (
    Capture(V1, AACT, PATH, "6d94954ac000fadd38a0a80aaa56bec209152221", chars=1876, full_chars=1876),
    Capture(V2, AACT, PATH, "9a3c3ea37fb5d93060f45959e0ff7b54709d4795", chars=10516, full_chars=10516),
)
PAIRS = (
    Pair(
        "nct01341288-xml-withheld-to-terminated",
        "real",
        (V1, V2),
        "withheld device-trial placeholder, then the full record of a trial terminated for slow accrual",
        real_captures(V1, V2),
        (
            ("status", "critical", 1),
            ("outcomes", "critical", 1),
            ("outcomes", "minor", 3),
            ("arms", "major", 1),
            ("arms", "major", 1),
            ("design", "major", 1),
            ("design", "major", 1),
            ("enrollment", "major", 1),
            ("eligibility", "major", 22),
            ("dates", "info", 1),
            ("dates", "minor", 1),
            ("dates", "minor", 1),
            ("design", "minor", 1),
            ("design", "minor", 3),
            ("design", "info", 1),
            ("design", "info", 1),
            ("eligibility", "minor", 3),
            ("sites", "minor", 1),
            ("sites", "minor", 1),
            ("contacts", "minor", 1),
            ("sponsor", "minor", 1),
            ("sponsor", "minor", 1),
            ("references", "minor", 1),
            ("references", "info", 2),
            ("identity", "minor", 1),
            ("identity", "minor", 1),
            ("identity", "info", 1),
            ("other", "info", 2),
        ),
    ),
)
