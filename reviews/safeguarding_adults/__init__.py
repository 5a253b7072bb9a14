"""The Safeguarding Adults Review (SAR), the service's third review type, for a Safeguarding Adults Board (SAB).

The statute (Care Act 2014):
- s44(1)-(3), a mandatory SAR: the SAB must arrange a review of the case of an adult in its area with needs for care
  and support (whether or not the local authority met them) if there is reasonable cause for concern about how the
  SAB, its members or others with relevant functions worked together to safeguard the adult, and either the adult
  died and the SAB knows or suspects the death resulted from abuse or neglect (condition 1, s44(2)), or the adult is
  alive and the SAB knows or suspects the adult experienced serious abuse or neglect (condition 2, s44(3)).
- s44(4), a discretionary SAR: the SAB may arrange a review of any other such case.
- Schedule 2 para 1(1): the SAB's members are the local authority that set it up, an integrated care board for its
  area and the chief officer of police: the same three seats the service knows from the children's partnership, so
  the criteria decision is theirs, each with reasons.

Built so far: the referral, the partners' decision whether the criteria are met (and which), commissioning the review,
the report, the board's sign-off by its three members, and publication. Then (issue 30 item 4): agency information
returns (``agency_information.py``; a return on a linked case counted where the partners agreed to share,
``service/cases/case_links.py``), the report's recommendations into the one action plan at publication, and the
figures for the SAB's annual report (Care Act 2014 Sch. 2 para 4(1)(d)-(g): ``service/partnership/sar_account.py``).
Its clocks are local practice, not statute (``SarRules``), each naming its source.
"""
