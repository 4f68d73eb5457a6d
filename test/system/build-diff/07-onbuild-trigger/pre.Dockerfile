# The parent of case 07: ONBUILD triggers and a HEALTHCHECK the child turns off.
FROM localhost/busybox
HEALTHCHECK --interval=1m CMD true
ONBUILD RUN echo triggered > /onbuild.txt
ONBUILD COPY file.txt /from-trigger/
ONBUILD ENV TRIGGERED=yes
