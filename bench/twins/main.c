/* Entry point of one twin executable: the protocol and engine are chosen at
 * build time (TWIN_PROTO, TWIN_ENGINE, TWIN_NAME), one executable per pair. */
#include "bench/twins/twin.h"

int main(int argc, char **argv)
{
    return twin_main(argc, argv, &TWIN_PROTO, &TWIN_ENGINE, TWIN_NAME);
}
